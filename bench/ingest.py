"""Ingest throughput on a real Dovecot mailbox, against the raw fetch+parse floor, in one run.

Fills a throwaway Dovecot mailbox with N generated complaints (English, Simplified Chinese in
GBK under a gb2312 label, Traditional Chinese in Big5, HTML-only), loads a trade book of at
least 100,000 orders with `claimsbot import` into SQLite or (``--database postgresql``) a
PostgreSQL server started as the tests start one, then measures:

  (a) the floor: imapclient FETCH BODY.PEEK[] of every message + mail-parser parse, nothing else,
      before (b) and again after it (from the processed folder), the mean of the two;
  (b) `claimsbot run --once` over the same messages into claims and drafted replies (``--workers``
      of them at once, each its own process);

and prints both rates, their ratio, peak memory, SQL statements per message and where the
worker's time went (fetch, parse, stages, write, archive, other: each wrapped function's own
time, less what it calls of the others); then one 25 MB message through `run --once`; then
the cost of an empty poll with 100 and with 100,000 messages already seen.

Run: .venv/bin/python bench/ingest.py [--messages N] [--orders N] [--database sqlite|postgresql]
     [--workers N]   (needs dovecot-imapd, and PostgreSQL's server for --database postgresql)
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from email.header import Header
from pathlib import Path

import imapclient
import mailparser

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.compensation import generate, scratch  # noqa: E402
from bot.config import ImapSettings, settings_from_mapping  # noqa: E402
from bot.mail.cycle import run_cycle  # noqa: E402
from bot.records.importer import import_file  # noqa: E402
from bot.storage import database, schema  # noqa: E402
from bot.storage.tables import InboundMessage, MailboxCursor, MessageStatus, utcnow  # noqa: E402
from tests.servers.dovecot import DovecotServer  # noqa: E402
from tests.servers.postgres import PostgresServer  # noqa: E402


def complaint(i: int, accounts: int, rng: random.Random) -> bytes:
    login = i % accounts
    orders = [50_000_000 + login + accounts * k for k in range(rng.randint(1, 2))]
    listed = ", ".join(map(str, orders))
    kind = i % 4
    head = f"From: Client {login} <client{login}@example.com>\r\nTo: complaint@broker.example\r\n"
    head += f"Message-ID: <bench-{i}@example.com>\r\nDate: Thu, 27 Jun 2019 10:00:00 +0800\r\n"
    head += "MIME-Version: 1.0\r\n"
    if kind == 0:
        body = f"Hello,\r\nmy account is {10_000_000 + login}, orders {listed} opened at abnormal prices.\r\n"
        return (
            head + "Subject: Outage compensation\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body
        ).encode()
    if kind == 1:
        numbers = listed.replace(", ", "、")
        text = f"您好，交易账号：{10_000_000 + login}，订单号 {numbers}。请按最优价格执行。\r\n"
        subject = Header("赔偿申请", "gbk").encode().replace("=?gbk?", "=?gb2312?")
        return (
            head + f"Subject: {subject}\r\nContent-Type: text/plain; charset=gb2312\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n"
        ).encode() + base64.encodebytes(text.encode("gbk"))
    if kind == 2:
        text = f"您好，帳號 {10_000_000 + login}，訂單號 {listed}。請恢復我的訂單。\r\n"
        return (
            head
            + f"Subject: {Header('報價故障賠償', 'big5').encode()}\r\n"
            + "Content-Type: text/plain; charset=big5\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n"
        ).encode() + base64.encodebytes(text.encode("big5"))
    html = f"<html><body><p>Account <b>{10_000_000 + login}</b></p><p>Order no. {listed}</p></body></html>"
    return (
        head + "Subject: complaint\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + html + "\r\n"
    ).encode()


def config_for(
    folder: Path, server: DovecotServer, database: Path, database_url: str = "", *, share: bool = True
) -> Path:
    path = folder / "bench.toml"
    path.write_text(
        f'data_dir = "{database}"\ndatabase_url = "{database_url}"\n'
        "[claims]\nmax_replies_per_sender_per_day = 1000000\nmax_replies_per_sender = 1000000\n"
        f'[imap]\nhost = "{server.host}"\nport = {server.port}\nssl = false\nusername = "{server.username}"\n'
        f'password = "{server.password}"\nidle = false\n'
        '[smtp]\nhost = "127.0.0.1"\nport = 9\nsecurity = "none"\n'
        f"[intake]\nshare_stage_work = {str(share).lower()}\n"
    )
    return path


@dataclass
class Run:
    seconds: float
    rss_mib: float
    summary: str
    statements: int = 0
    shares: dict[str, float] = field(default_factory=dict)
    # CPU seconds of the workers themselves, and of the processes they started (the reader).
    cpu: float = 0.0
    cpu_children: float = 0.0
    # The workers' garbage collections: seconds, of them in the oldest generation, and how many.
    gc: dict[str, float] = field(default_factory=dict)


def child_run(config: Path, workers: int = 1) -> Run:
    """`claimsbot run --once` in ``workers`` processes at once; the seconds until the last ends,
    the largest peak RSS in MiB, each worker's summary, SQL statements and time shares summed
    over the workers."""
    code = (
        "import json, sys, time; from bench.probe import Probe; probe = Probe(); "
        "from bot.cli import main; t = time.perf_counter(); "
        f"rc = main(['run', '--once', '--config', {str(config)!r}]); "
        # VmHWM, not ru_maxrss: after fork and exec, ru_maxrss still counts the parent's pages.
        "rss = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')) / 1024; "
        "print('RSS', rss, 'T', time.perf_counter() - t); print('PROBE', json.dumps(probe.report())); "
        # The reading process is left to end by itself: wait for it, so that its time is counted.
        "import multiprocessing, resource; [p.join(30) for p in multiprocessing.active_children()]; "
        "own, kids = (resource.getrusage(w) for w in "
        "(resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)); "
        "print('CPU', own.ru_utime + own.ru_stime, kids.ru_utime + kids.ru_stime); "
        "sys.exit(rc)"
    )
    started = time.perf_counter()
    children = [
        subprocess.Popen(
            [sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(workers)
    ]
    outputs = [child.communicate() for child in children]
    run = Run(time.perf_counter() - started, 0.0, "")
    for stdout, stderr in outputs:
        lines = stdout.splitlines()
        rss = [line for line in lines if line.startswith("RSS")]
        if not rss:
            raise SystemExit(f"the worker failed: {stderr[-2000:]}")
        run.rss_mib = max(run.rss_mib, float(rss[-1].split()[1]))
        probe = json.loads(next(line for line in lines if line.startswith("PROBE")).split(" ", 1)[1])
        run.statements += probe["statements"]
        cpu = next(line for line in lines if line.startswith("CPU")).split()
        run.cpu += float(cpu[1])
        run.cpu_children += float(cpu[2])
        for name, spent in probe["seconds"].items():
            run.shares[name] = run.shares.get(name, 0.0) + spent
        for name, value in probe["gc"].items():
            run.gc[name] = run.gc.get(name, 0.0) + value
        summary = next((line for line in lines if line.startswith("cycle:")), stderr[-300:])
        run.summary = f"{run.summary}\n    {summary}" if run.summary else summary
    if workers == 1:
        run.seconds = float(rss[-1].split()[3])
    return run


def tree_cpu(pid: int) -> float:
    """CPU seconds of a server process and all its descendants, living or already reaped."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    spent: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the command: state, ppid, ..., utime, stime, cutime, cstime (fields 14-17).
        process = int(stat.parent.name)
        parents[process] = int(fields[1])
        spent[process] = sum(int(f) for f in fields[11:15]) / ticks
    tree, grew = {pid}, True
    while grew:
        found = {p for p, parent in parents.items() if parent in tree} - tree
        tree |= found
        grew = bool(found)
    return sum(spent.get(p, 0.0) for p in tree)


def append_all(server: DovecotServer, messages: list[bytes], folder: str = "INBOX") -> None:
    with imapclient.IMAPClient(server.host, port=server.port, ssl=False, timeout=60) as client:
        client.login(server.username, server.password)
        for raw in messages:
            client.append(folder, raw)


def raw_floor(server: DovecotServer, batch: int = 100, folder: str = "INBOX") -> tuple[float, int]:
    started = time.perf_counter()
    count = 0
    with imapclient.IMAPClient(server.host, port=server.port, ssl=False, timeout=60) as client:
        client.login(server.username, server.password)
        client.select_folder(folder, readonly=True)
        uids = client.search(["ALL"])
        for i in range(0, len(uids), batch):
            for data in client.fetch(uids[i : i + batch], ["BODY.PEEK[]"]).values():
                mailparser.parse_from_bytes(data[b"BODY[]"])
                count += 1
    return time.perf_counter() - started, count


def empty_poll(config: Path, seen: int, server: DovecotServer, folder: Path) -> float:
    """Median seconds of a poll that finds nothing new, with ``seen`` messages already recorded."""
    from bot.config import load_settings

    settings = load_settings(config)
    engine = schema.open_engine(settings)
    with imapclient.IMAPClient(server.host, port=server.port, ssl=False, timeout=60) as client:
        client.login(server.username, server.password)
        status = client.select_folder("INBOX")
        uidvalidity, uidnext = int(status[b"UIDVALIDITY"]), int(status[b"UIDNEXT"])
    with database.session_scope(engine) as session:
        rows = [
            {
                "message_id": f"<seen-{i}@x>",
                "content_hash": f"seen-{i}",
                "raw": b"",
                "folder": "INBOX",
                "uidvalidity": uidvalidity,
                "uid": i + 1,
                "received_at": utcnow(),
                "sender": "",
                "subject": "",
                "status": MessageStatus.AUTOMATED,
                "reason": "",
                "archived": True,
            }
            for i in range(seen)
        ]
        for i in range(0, len(rows), 5000):
            session.execute(InboundMessage.__table__.insert(), rows[i : i + 5000])  # type: ignore[attr-defined]
        session.add(MailboxCursor(folder="INBOX", uidvalidity=uidvalidity, last_uid=uidnext - 1))
    run_cycle(settings, engine)
    timings = []
    for _ in range(7):
        started = time.perf_counter()
        report = run_cycle(settings, engine)
        timings.append(time.perf_counter() - started)
        assert report.fetched == 0
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--seen", type=int, default=100_000, help="messages already seen, for the empty poll")
    parser.add_argument("--big-mb", type=int, default=25)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--workers", type=int, default=1, help="`run --once` processes started at once")
    parser.add_argument(
        "--no-share",
        action="store_true",
        help="[intake] share_stage_work = false: on PostgreSQL, the worker reading the mailbox does it all",
    )
    parser.add_argument("--skip-extras", action="store_true", help="only the storm: no big message, no polls")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        database_url, database_pid = "", 0
        if args.database == "postgresql":
            postgres = stack.enter_context(PostgresServer())
            database_url, database_pid = postgres.new_database(), postgres.pid
        storm(args, database_url, database_pid)
    if not args.skip_extras:
        extras(args)


def storm(args: argparse.Namespace, database_url: str, database_pid: int = 0) -> None:
    rng = random.Random(3)
    folder = scratch("claimsbot-ingest-")
    settings = settings_from_mapping(
        {"data_dir": str(folder / "data"), "database_url": database_url}, source="bench"
    )
    engine = schema.open_engine(settings)
    for path in generate(folder, args.orders, 200_000):
        import_file(engine, path, settings.trade_server.tz)
    engine.dispose()
    accounts = max(1, args.orders // 10)
    messages = [complaint(i, accounts, rng) for i in range(args.messages)]
    with DovecotServer() as server:
        started = time.perf_counter()
        server.fill(messages)
        appended = time.perf_counter() - started
        floor_s, floor_n = raw_floor(server)
        servers = [server.pid, *([database_pid] if database_pid else [])]
        before = [tree_cpu(pid) for pid in servers]
        config = config_for(folder, server, folder / "data", database_url, share=not args.no_share)
        run = child_run(config, args.workers)
        served = [tree_cpu(pid) - then for pid, then in zip(servers, before, strict=True)]
        # The same messages again, now in the processed folder: this machine's speed drifts by
        # a fifth within minutes, so the floor is taken on both sides of the run.
        after_s, after_n = raw_floor(server, folder=ImapSettings().processed_folder)
    floor_rates = (floor_n / floor_s, after_n / after_s)
    floor_rate, run_rate = statistics.mean(floor_rates), args.messages / run.seconds
    where = "PostgreSQL" if database_url else "SQLite"
    alone = ", stage work not shared" if args.no_share else ""
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}, "
        f"Dovecot, {where}, {args.workers} worker(s){alone}; book {args.orders:,} orders"
    )
    print(f"maildir filled with {args.messages:,} messages in {appended:.1f} s")
    print(
        f"(a) raw FETCH + mail-parser: {floor_rate:,.0f} msg/s (mean of {floor_rates[0]:,.0f} before "
        f"the run and {floor_rates[1]:,.0f} after it)"
    )
    print(
        f"(b) claimsbot run --once:    {run_rate:,.0f} msg/s ({run.seconds:.1f} s), "
        f"peak RSS {run.rss_mib:.0f} MiB"
    )
    print(f"    {run.summary}")
    print(f"ratio (b)/(a): {run_rate / floor_rate:.2f}")
    print(f"SQL statements per message: {run.statements / args.messages:.2f}")
    spent = sum(run.shares.values()) or 1.0
    print("time shares: " + ", ".join(f"{k} {v / spent:.0%}" for k, v in sorted(run.shares.items())))
    print(
        f"garbage collection in the worker(s): {run.gc['seconds']:.1f} s in {run.gc['runs']:,.0f} runs, "
        f"{run.gc['oldest']:.1f} s of it in the oldest generation"
    )
    cores = os.cpu_count() or 1
    print(
        f"CPU seconds: worker(s) {run.cpu:.1f}, their reading processes {run.cpu_children:.1f}, "
        f"Dovecot {served[0]:.1f}" + (f", {where} {served[1]:.1f}" if database_url else "") + "; "
        f"{cores} cores over {run.seconds:.1f} s hold {cores * run.seconds:.1f}"
    )


def extras(args: argparse.Namespace) -> None:
    folder = scratch("claimsbot-ingest-extras-")

    attachment = base64.encodebytes(os.urandom(args.big_mb * 1024 * 1024 * 3 // 4))
    raw = (
        b"From: Client 1 <client1@example.com>\r\nTo: complaint@broker.example\r\nSubject: claim\r\n"
        b"Message-ID: <big@example.com>\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
        b"--b\r\nContent-Type: text/plain\r\n\r\naccount 10000001 order 50000001\r\n--b\r\n"
        b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + attachment
        + b"--b--\r\n"
    )
    with DovecotServer() as server:
        append_all(server, [raw])
        big_folder = folder / "big"
        big_folder.mkdir()
        big = child_run(config_for(big_folder, server, big_folder / "data"))
    print(
        f"one {len(raw) / 1e6:.1f} MB message: {big.seconds:.1f} s, "
        f"peak RSS {big.rss_mib:.0f} MiB ({big.summary})"
    )

    polls = {}
    for seen in (100, args.seen):
        with DovecotServer() as server:
            tiny = [
                f"From: a@b.c\r\nSubject: s\r\nMessage-ID: <t{i}@x>\r\n\r\nx\r\n".encode()
                for i in range(seen)
            ]
            server.fill(tiny)
            poll_folder = folder / f"poll-{seen}"
            poll_folder.mkdir()
            polls[seen] = empty_poll(
                config_for(poll_folder, server, poll_folder / "data"), seen, server, poll_folder
            )
    print(
        f"empty poll, 100 messages seen: {polls[100] * 1000:.1f} ms; {args.seen:,} seen: "
        f"{polls[args.seen] * 1000:.1f} ms; ratio {polls[args.seen] / polls[100]:.2f}"
    )
    print(f"bench process peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
