"""The staff pages at incident scale: 10,000 claims and 20,000 replies, on SQLite and PostgreSQL.

Fills a database with claims as the pipeline stores them (each with its account, two orders,
the client's message, an acknowledgement and an offer waiting as drafts, and its history),
then asks the page, as a signed-in supervisor, for the queue, the queue's second page, the
claims view filtered by state, a search by email, account and order, and claim pages; prints
the median and 95th percentile time of each and the page's size, and the time of one bulk
approval of acknowledgements (as many as one action takes). Run:

    .venv/bin/python bench/web.py [--claims 10000] [--rounds 30]

PostgreSQL is skipped when it is not installed (Debian's postgresql package).
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from starlette.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.claims import staff
from bot.config import settings_from_mapping
from bot.storage import database, schema
from bot.web.app import create_app
from tests.scale import fill
from tests.servers import postgres

PASSWORD = "a long enough bench password"


def measure(database_url: str, data_dir: Path, claims: int, rounds: int) -> None:
    settings = settings_from_mapping(
        {"data_dir": str(data_dir), "database_url": database_url}, source="bench"
    )
    engine = schema.open_engine(settings)
    started = time.perf_counter()
    with database.session_scope(engine) as session:
        staff.add_user(session, name="sam", role="supervisor", password=PASSWORD)
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
        "queue, min_amount=600": lambda: "/?min_amount=600",
        "queue, all, acknowledgements": lambda: "/?view=all&kind=acknowledgement",
        "claims view, oldest first, nobody's": lambda: "/claims?owner=none&sort=oldest",
        "claims view, by account": lambda: f"/claims?account={80_000_000 + pick.randint(1, claims)}",
        "reply page": lambda: f"/replies/{pick.randint(1, 2 * claims)}?view=all",
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
    bulk_approval(client)
    engine.dispose()


def bulk_approval(client: TestClient) -> None:
    """One "approve all that match" of the waiting acknowledgements: one action takes the first
    ``BULK_LIMIT``, after the second confirmation a count that large asks for."""
    query = "view=all&kind=acknowledgement"
    page = client.get(f"/?{query}").text
    token = page.split('name="csrf" value="')[1].split('"')[0]
    upto = page.split('name="upto" value="')[1].split('"')[0]
    expected = page.split('name="expected" value="')[1].split('"')[0]
    form = {"csrf": token, "scope": "matching", "from": query, "upto": upto, "expected": expected}
    started = time.perf_counter()
    answer = client.post("/bulk-approve", data={**form, "confirm": "yes", "confirm_again": expected})
    took = time.perf_counter() - started
    assert answer.status_code == 303, answer.text[:300]
    told = client.get("/").text.split('class="flash', 1)[1].split("</p>", 1)[0].split(">", 1)[1]
    print(f"  bulk approval, one action of {int(expected):,} matching: {took:.1f} s ({told[:60]})")


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
