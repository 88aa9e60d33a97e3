"""``claimsbot import`` and ``ingest`` show how far they are on a terminal, and nothing extra
when their output goes to a pipe or a file (a script or a log reads only the summary)."""

from __future__ import annotations

import fcntl
import mailbox
import os
import pty
import select
import struct
import subprocess
import sys
import termios
from pathlib import Path

from bench.compensation import generate
from tests.messages import variants

ROOT = Path(__file__).resolve().parents[2]


def run_on_a_terminal(command: list[str]) -> tuple[int, str]:
    leader, follower = pty.openpty()
    # A terminal 80 columns wide: a pty starts at 0 columns, where tqdm draws nothing.
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    process = subprocess.Popen(command, cwd=ROOT, stdin=follower, stdout=follower, stderr=follower)
    os.close(follower)
    seen = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 120)
        if not ready:
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    return process.wait(60), seen.decode("utf-8", "replace")


def run_piped(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=180)


def test_import_shows_progress_on_a_terminal_and_nothing_extra_when_piped(tmp_path: Path) -> None:
    (tmp_path / "book").mkdir()
    paths = {p.name: p for p in generate(tmp_path / "book", orders=60_000, ticks=10)}
    orders = paths["orders.csv"]
    assert orders.stat().st_size > 5_000_000, "above the size a bar is shown for"
    for name, data in (("terminal", "data-tty"), ("piped", "data-pipe")):
        config = tmp_path / f"{name}.toml"
        config.write_text(f'data_dir = "{tmp_path / data}"\n', encoding="utf-8")
    base = [
        sys.executable,
        "-m",
        "bot",
        "import",
        str(paths["accounts.csv"]),
        str(paths["symbols.csv"]),
        str(orders),
    ]

    code, shown = run_on_a_terminal([*base, "--config", str(tmp_path / "terminal.toml")])
    assert code == 0, shown
    assert "orders.csv:" in shown and "%|" in shown, "a bar with the file's name and how far it is"

    piped = run_piped([*base, "--config", str(tmp_path / "piped.toml")])
    assert piped.returncode == 0, piped.stderr
    assert "%|" not in piped.stderr + piped.stdout and "\r" not in piped.stderr + piped.stdout
    summary = [line for line in piped.stdout.splitlines() if line.strip()]
    assert summary and all(
        "orders.csv" in line or "accounts.csv" in line or "symbols.csv" in line for line in summary
    )


def test_ingest_shows_progress_on_a_terminal_and_nothing_extra_when_piped(tmp_path: Path) -> None:
    box = mailbox.mbox(str(tmp_path / "saved.mbox"))
    for _, raw in variants("en-alice-best-price.eml", 60):
        box.add(raw)
    box.flush()
    for name in ("terminal", "piped"):
        (tmp_path / f"{name}.toml").write_text(f'data_dir = "{tmp_path / name}"\n', encoding="utf-8")
    base = [sys.executable, "-m", "bot", "ingest", str(tmp_path / "saved.mbox")]
    code, shown = run_on_a_terminal([*base, "--config", str(tmp_path / "terminal.toml")])
    assert code == 0, shown
    assert "saved.mbox:" in shown and "%|" in shown and "msg" in shown
    piped = run_piped([*base, "--config", str(tmp_path / "piped.toml")])
    assert piped.returncode == 0, piped.stderr
    assert "%|" not in piped.stderr + piped.stdout and piped.stdout.startswith("ingest:")
