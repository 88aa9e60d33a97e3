"""How the parse and extract stages scale with what an attacker can send: one body repeating
"account ... order ..." at growing sizes, and a message of many MIME parts.

Prints the seconds for each size and the ratio of the largest to the smallest per byte (1.0 is
linear; the quadratic extractor this replaced took 139 s at 384 KB). Run:
    .venv/bin/python bench/hostile.py
"""

from __future__ import annotations

import platform
import time
from email.message import EmailMessage

from bot.stages.extract import extract
from bot.stages.parse import parse

LINE = "account 81234570 order 55667790\n"


def timed(raw: bytes) -> tuple[float, float]:
    started = time.perf_counter()
    parsed = parse(raw)
    middle = time.perf_counter()
    extract(parsed)
    return middle - started, time.perf_counter() - middle


def body_of(lines: int) -> bytes:
    message = EmailMessage()
    message["From"], message["Subject"] = "alice.chen@example.com", "claim"
    message.set_content(LINE * lines)
    return bytes(message)


def parts_of(count: int) -> bytes:
    message = EmailMessage()
    message["From"], message["Subject"] = "alice.chen@example.com", "parts"
    message.set_content(LINE)
    for i in range(count):
        message.add_related(f"part {i} order 5566{i:04d}", subtype="plain")
    return bytes(message)


def main() -> None:
    print(f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}")
    per_byte = []
    for lines in (1_200, 12_000, 30_000):
        raw = body_of(lines)
        parse_s, extract_s = timed(raw)
        per_byte.append((parse_s + extract_s) / len(raw))
        print(f"body {len(raw) / 1024:8.0f} KB: parse {parse_s:6.2f} s, extract {extract_s:6.2f} s")
    print(f"ratio seconds per byte, largest / smallest body: {per_byte[-1] / per_byte[0]:.2f}")
    for count in (1_000, 10_000):
        raw = parts_of(count)
        parse_s, extract_s = timed(raw)
        print(
            f"{count:6d} parts ({len(raw) / 1024:.0f} KB): parse {parse_s:6.2f} s, extract {extract_s:6.2f} s"
        )


if __name__ == "__main__":
    main()
