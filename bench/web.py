"""The staff pages at incident scale: 10,000 claims and 20,000 replies, on SQLite and PostgreSQL.

Fills a database with claims as the pipeline stores them (each with its account, two orders,
the client's message, an acknowledgement and an offer waiting as drafts, and its history),
then asks the page, as a signed-in supervisor, for the queue, the queue's second page, the
claims view filtered by state, a search by email, account and order, and claim pages; prints
the median and 95th percentile time of each and the page's size. Run:

    .venv/bin/python bench/web.py [--claims 10000] [--rounds 30]

PostgreSQL is skipped when it is not installed (Debian's postgresql package).
"""

from __future__ import annotations

import argparse
import hashlib
import platform
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import insert
from starlette.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.claims import staff
from bot.config import settings_from_mapping
from bot.storage import database, schema
from bot.storage.tables import (
    Claim,
    ClaimAccount,
    ClaimEvent,
    ClaimOrder,
    InboundMessage,
    Reply,
    utcnow,
)
from bot.web.app import create_app
from tests.servers import postgres

PASSWORD = "a long enough bench password"
STATES = ["acknowledged", "assessed", "assessed", "assessed", "escalated", "offer_sent", "needs_information"]
MAIL = (
    "From: Client {n} <client{n}@example.com>\r\nTo: complaint@broker.example\r\n"
    "Subject: claim for account {login}\r\nMessage-ID: <bench-{n}@example.com>\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n\r\n"
    "My account {login}: orders {a} and {b} were opened at abnormal prices during the outage.\r\n"
    "Please execute them at the most favourable price.\r\n\r\nClient {n}\r\n"
)
LETTER = "Dear Client,\n\n" + "Thank you for your claim about the quote-server outage. " * 20


def fill(engine: object, claims: int) -> None:
    now = utcnow()
    batch = 2_000
    with database.session_scope(engine) as session:  # type: ignore[arg-type]
        staff.add_user(session, name="sam", role="supervisor", password=PASSWORD)
    for start in range(1, claims + 1, batch):
        numbers = range(start, min(claims, start + batch - 1) + 1)
        rows = {name: [] for name in ("claim", "account", "order", "message", "reply", "event")}  # type: ignore[var-annotated]
        for n in numbers:
            login, a, b = f"{80_000_000 + n}", f"{50_000_000 + 2 * n}", f"{50_000_001 + 2 * n}"
            at = now - timedelta(minutes=claims - n)
            rows["claim"].append(
                {
                    "id": n,
                    "reference": f"CLM-2026-{n:06d}",
                    "incident": "quote-server outage",
                    "status": STATES[n % len(STATES)],
                    "sender": f"client{n}@example.com",
                    "claimant_name": f"Client {n}",
                    "account_login": login,
                    "sender_verified": True,
                    "language": ("en", "zh-Hans", "zh-Hant")[n % 3],
                    "request": "best_price",
                    "created_at": at,
                    "pending_consent": "",
                    "pending_consent_letter": "",
                }
            )
            rows["account"].append({"claim_id": n, "login": login, "by_email": False})
            for ticket in (a, b):
                rows["order"].append(
                    {
                        "claim_id": n,
                        "ticket": ticket,
                        "login": login,
                        "claimed_as": ticket,
                        "outcome": "eligible",
                        "category": 1,
                        "symbol": "EURUSD",
                        "currency": "USD",
                        "best_price_amount": Decimal("316.00"),
                        "explanation": "best_price: entry re-priced; difference 316.00 USD",
                    }
                )
            raw = MAIL.format(n=n, login=login, a=a, b=b).encode()
            rows["message"].append(
                {
                    "message_id": f"<bench-{n}@example.com>",
                    "content_hash": hashlib.sha256(raw).hexdigest(),
                    "raw": raw,
                    "raw_path": "",
                    "folder": "INBOX",
                    "uidvalidity": 1,
                    "uid": n,
                    "received_at": at,
                    "sender": f"client{n}@example.com",
                    "subject": f"claim for account {login}",
                    "status": "claim",
                    "reason": "new complaint",
                    "claim_id": n,
                    "archived": True,
                    "evidence": "",
                }
            )
            for kind, amount in (("acknowledgement", None), ("offer", Decimal("632.00"))):
                rows["reply"].append(
                    {
                        "claim_id": n,
                        "kind": kind,
                        "language": "en",
                        "to_address": f"client{n}@example.com",
                        "subject": f"Your claim CLM-2026-{n:06d}",
                        "body_text": LETTER,
                        "body_html": f"<p>{LETTER}</p>",
                        "amount": amount,
                        "currency": "USD" if amount else "",
                        "message_id": f"<reply-{kind}-{n}@broker.example>",
                        "in_reply_to": "",
                        "references": "",
                        "status": "draft",
                        "created_at": at,
                        "drafted_by": "bot",
                        "first_approved_by": "",
                        "edited_by": "",
                        "note": "",
                        "attempts": 0,
                        "decided_by": "",
                        "failure": "",
                    }
                )
            for event in ("received", "reply_drafted", "reply_drafted"):
                rows["event"].append(
                    {"claim_id": n, "at": at, "actor": "bot", "event": event, "detail": f"bench {n}"}
                )
        with database.session_scope(engine) as session:  # type: ignore[arg-type]
            for table, name in (
                (Claim, "claim"),
                (ClaimAccount, "account"),
                (ClaimOrder, "order"),
                (InboundMessage, "message"),
                (Reply, "reply"),
                (ClaimEvent, "event"),
            ):
                session.execute(insert(table), rows[name])  # type: ignore[arg-type]


def measure(database_url: str, data_dir: Path, claims: int, rounds: int) -> None:
    settings = settings_from_mapping(
        {"data_dir": str(data_dir), "database_url": database_url}, source="bench"
    )
    engine = schema.open_engine(settings)
    started = time.perf_counter()
    fill(engine, claims)
    print(f"  filled {claims:,} claims and {2 * claims:,} replies in {time.perf_counter() - started:.1f} s")
    client = TestClient(create_app(settings, engine), base_url="https://bench", follow_redirects=False)
    login = client.get("/login").text
    token = login.split('name="csrf" value="')[1].split('"')[0]
    assert client.post("/login", data={"csrf": token, "name": "sam", "password": PASSWORD}).status_code == 303
    first = client.get("/").text
    after = first.split('rel="next"')[0].rsplit("after=", 1)[-1].split('"')[0]
    pick = random.Random(7)
    views = {
        "queue (waiting for me)": lambda: "/",
        "queue, next page": lambda: f"/?after={after}",
        "claims view, state=assessed": lambda: "/claims?state=assessed",
        "claims view, older page": lambda: f"/claims?state=assessed&before={claims // 2}",
        "search by email": lambda: f"/search?q=client{pick.randint(1, claims)}@example.com",
        "search by account": lambda: f"/search?q={80_000_000 + pick.randint(1, claims)}",
        "search by order": lambda: f"/search?q={50_000_000 + 2 * pick.randint(1, claims)}",
        "search by name": lambda: f"/search?q=Client {pick.randint(1, claims)}",
        "claim page": lambda: f"/claims/{pick.randint(1, claims)}",
        # Still one unpaged list: amounts are compared in Python (SQLite keeps them as text).
        "queue, min_amount=600 (unpaged)": lambda: "/?min_amount=600",
    }
    print(f"  {'view':<32} {'median':>8} {'p95':>8} {'page':>9}")
    for name, path in views.items():
        times, size = [], 0
        for _ in range(rounds):
            url = path()
            t = time.perf_counter()
            answer = client.get(url)
            times.append(time.perf_counter() - t)
            assert answer.status_code in (200, 303), (url, answer.status_code)
            size = max(size, len(answer.content))
        times.sort()
        p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
        median = statistics.median(times) * 1000
        print(f"  {name:<32} {median:6.0f} ms {p95 * 1000:6.0f} ms {size / 1024:7.0f} KB")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}")
    with tempfile.TemporaryDirectory(prefix="claimsbot-bench-web-") as folder:
        print("SQLite:")
        measure("", Path(folder) / "sqlite", args.claims, args.rounds)
        if postgres.available():
            with postgres.PostgresServer() as server:
                print("PostgreSQL:")
                measure(server.new_database(), Path(folder) / "pg", args.claims, args.rounds)
        else:
            print("PostgreSQL: not installed, skipped")


if __name__ == "__main__":
    main()
