"""A throwaway Dovecot IMAP server on 127.0.0.1, for tests that need the real thing."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from bot.demo.imap_server import free_port

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"

CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = dovenull
default_internal_user = dovecot
first_valid_uid = 1
mail_fsync = never
mail_location = maildir:{root}/mail/%u
passdb {{
  driver = passwd-file
  args = {root}/passwd
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={root}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service stats {{
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
protocol imap {{
  mail_max_userip_connections = 50
}}
"""


def available() -> bool:
    return Path(DOVECOT).exists()


class DovecotServer:
    """Dovecot with one user and an empty maildir, started and stopped with ``with``."""

    def __init__(self, username: str = "complaint", password: str = "test-only") -> None:
        self.host = "127.0.0.1"
        self.username = username
        self.password = password
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="dovecot-"))
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> DovecotServer:
        dovecot = pwd.getpwnam("dovecot")
        os.chmod(self.root, 0o755)
        for sub in ("run", "state", "mail"):
            (self.root / sub).mkdir()
        os.chown(self.root / "mail", dovecot.pw_uid, dovecot.pw_gid)
        (self.root / "passwd").write_text(f"{self.username}:{{PLAIN}}{self.password}\n")
        config = self.root / "dovecot.conf"
        config.write_text(CONFIG.format(root=self.root, port=self.port))
        return self._start()

    def fill(self, messages: list[bytes]) -> None:
        """Drop messages straight into the user's maildir, as a delivery agent would (fast setup)."""
        dovecot = pwd.getpwnam("dovecot")
        maildir = self.root / "mail" / self.username
        for sub in ("new", "cur", "tmp"):
            (maildir / sub).mkdir(parents=True, exist_ok=True)
            os.chown(maildir / sub, dovecot.pw_uid, dovecot.pw_gid)
        os.chown(maildir, dovecot.pw_uid, dovecot.pw_gid)
        stamp = int(time.time())
        for index, raw in enumerate(messages):
            path = maildir / "new" / f"{stamp}.M{index}P{os.getpid()}.bench"
            path.write_bytes(raw)
            os.chown(path, dovecot.pw_uid, dovecot.pw_gid)

    def restart(self) -> None:
        """Stop and start the server on the same port, keeping the mail: a restart mid-batch."""
        assert self._process is not None
        # Kill the serving processes first, so open connections drop as in a crash or restart.
        children = subprocess.run(["pgrep", "-P", str(self._process.pid)], capture_output=True, text=True)
        pids = [int(p) for p in children.stdout.split()]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self._process.kill()
        self._process.wait(10)
        deadline = time.monotonic() + 10
        while any(Path(f"/proc/{pid}").exists() for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        # A killed master leaves its sockets behind; a real restart script clears them too.
        for leftover in (self.root / "run").iterdir():
            if leftover.is_socket() or leftover.is_file():
                leftover.unlink()
        self._start()

    def _start(self) -> DovecotServer:
        config = self.root / "dovecot.conf"
        self._process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self._log()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=1) as probe:
                    if probe.recv(100).startswith(b"* OK"):
                        return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"dovecot did not start: {self._log()}")

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(5)
        shutil.rmtree(self.root, ignore_errors=True)

    def _log(self) -> str:
        log = self.root / "dovecot.log"
        text = log.read_text(errors="replace") if log.exists() else ""
        if (
            self._process is not None
            and self._process.stderr is not None
            and self._process.poll() is not None
        ):
            text += self._process.stderr.read().decode(errors="replace")
        return text[-2000:]
