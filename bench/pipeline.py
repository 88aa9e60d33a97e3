"""Throughput of the whole pipeline: N complaints through real IMAP (pymap) into claims and drafts.

Prints messages per second for one cycle, the cost of an empty poll afterwards, and peak memory.
Run: .venv/bin/python bench/pipeline.py [N]
"""

from __future__ import annotations

import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

from bot.demo.book import load_sample_book
from bot.demo.imap_server import EmbeddedImapServer
from bot.demo.run import deliver, demo_settings, sample_messages
from bot.demo.smtp_sink import SmtpSink
from bot.mail.cycle import run_cycle
from bot.storage import schema


def main(count: int) -> None:
    templates = [raw for name, raw in sample_messages() if not name.startswith(("broken", "auto"))]
    messages = []
    for i in range(count):
        raw = templates[i % len(templates)]
        head, _, rest = raw.partition(b"Message-ID: <")
        messages.append((f"m{i}", head + f"Message-ID: <bench-{i}.".encode() + rest))
    with (
        tempfile.TemporaryDirectory(prefix="claimsbot-bench-") as folder,
        EmbeddedImapServer() as imap,
        SmtpSink() as smtp,
    ):
        settings = demo_settings(Path(folder), imap, smtp)
        engine = schema.open_engine(settings)
        load_sample_book(engine, settings.data_dir / "book", settings.trade_server.tz)
        deliver(settings, messages)
        started = time.perf_counter()
        report = run_cycle(settings, engine)
        elapsed = time.perf_counter() - started
        assert report.fetched == count, report
        started = time.perf_counter()
        empty = run_cycle(settings, engine)
        idle = time.perf_counter() - started
        assert empty.fetched == 0
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"machine: {platform.machine()} {platform.processor() or ''} python {platform.python_version()}")
    print(
        f"messages: {count}  cycle: {elapsed:.2f} s  throughput: {count / elapsed:.1f} msg/s  "
        f"per message: {1000 * elapsed / count:.1f} ms"
    )
    print(f"empty poll afterwards: {1000 * idle:.1f} ms  ratio empty/full cycle: {idle / elapsed:.4f}")
    print(f"peak RSS (whole process, servers included): {peak_mib:.0f} MiB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
