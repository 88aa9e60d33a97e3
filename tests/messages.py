"""The one way tests load sample messages: ``.eml`` files in tests/data/mail or the demo's set."""

from __future__ import annotations

from bot.stages.parse import ParsedMessage, parse
from tests import ROOT, TESTS

TEST_MAIL = TESTS / "data" / "mail"
DEMO_MAIL = ROOT / "bot" / "demo" / "mail"


def eml(name: str) -> bytes:
    for folder in (TEST_MAIL, DEMO_MAIL):
        path = folder / name
        if path.exists():
            return path.read_bytes()
    raise FileNotFoundError(name)


def parsed(name: str) -> ParsedMessage:
    return parse(eml(name))


def variants(name: str, count: int) -> list[tuple[str, bytes]]:
    """``count`` copies of one sample message, each with its own Message-ID."""
    raw = eml(name)
    head, marker, rest = raw.partition(b"Message-ID: <")
    assert marker, f"{name} has no Message-ID"
    return [(f"{name}#{i}", head + marker + f"v{i}.".encode() + rest) for i in range(count)]


def from_each(name: str, count: int) -> list[tuple[str, bytes]]:
    """``count`` copies of one sample message, each with its own Message-ID (not one of
    ``variants``') and sent from an address of its own (``local+N@domain``), as a storm from
    many clients is."""
    raw = eml(name)
    head, marker, rest = raw.partition(b"Message-ID: <")
    at = head.find(b"@")
    assert marker and head.startswith(b"From:") and at > 0, f"{name} must begin with its From: address"
    return [
        (f"{name}+{i}", head[:at] + f"+{i}".encode() + head[at:] + marker + f"from{i}.".encode() + rest)
        for i in range(count)
    ]
