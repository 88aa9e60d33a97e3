"""The staff's views and search, on the claims the pipeline stores."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import select

from bot.storage import database, finder, schema
from bot.storage.tables import Claim, ClaimAccount, ClaimOrder, Reply, ReplyStatus, utcnow
from bot.storage.types import hundredths
from tests.conftest import make_settings
from tests.scale import fill


def _claims(engine: Engine, count: int) -> list[int]:
    with database.session_scope(engine) as session:
        made = []
        for i in range(count):
            claim = Claim(
                incident="outage",
                status="assessed" if i % 2 else "escalated",
                sender=f"client{i}@example.com",
                claimant_name=f"Chan Tai Man {i}" if i == 3 else f"Client {i}",
                account_login=f"8123{i:04d}",
                sender_verified=True,
                language="zh-Hant" if i % 3 == 0 else "en",
                created_at=utcnow(),
            )
            session.add(claim)
            session.flush()
            claim.reference = f"CLM-2026-{claim.id:06d}"
            session.add(ClaimAccount(claim_id=claim.id or 0, login=f"8123{i:04d}"))
            session.add(
                ClaimOrder(
                    claim_id=claim.id or 0,
                    ticket=f"5566{i:04d}",
                    claimed_as=f"5566-{i:04d}",
                    outcome="eligible",
                )
            )
            made.append(claim.id or 0)
        return made


def test_pages_go_by_key_and_say_the_total(book_engine: Engine) -> None:
    ids = _claims(book_engine, 7)
    with database.session_scope(book_engine) as session:
        first = finder.claims_page(session, size=3)
        second = finder.claims_page(session, size=3, before=first.next_key)
        last = finder.claims_page(session, size=3, before=second.next_key)
        assert [c.id for c in first.claims + second.claims + last.claims] == sorted(ids, reverse=True)
        assert first.total == 7 and last.next_key is None
        escalated = finder.claims_page(session, finder.ClaimFilter(state="escalated"))
        assert escalated.total == 4 and {c.status for c in escalated.claims} == {"escalated"}
        assert finder.counts_by_state(session) == {"assessed": 3, "escalated": 4}


def test_search_by_reference_account_order_email_and_name(book_engine: Engine) -> None:
    ids = _claims(book_engine, 5)
    with database.session_scope(book_engine) as session:

        def found(q: str) -> list[int]:
            return [c.id or 0 for c in finder.search(session, q)]

        assert found(f"clm-2026-{ids[2]:06d}") == [ids[2]]
        assert found("81230004") == [ids[4]]
        assert found("55660001") == found("#55660001") == [ids[1]]
        assert found("Client2@Example.com") == [ids[2]]
        assert found("chan tai") == [ids[3]]
        assert found("nobody") == [] and found("  ") == []
        assert found("100%") == []


def test_reply_pages_go_by_key_and_leave_out_what_the_view_excludes(book_engine: Engine) -> None:
    (claim_id,) = _claims(book_engine, 1)
    with database.session_scope(book_engine) as session:
        for i, kind in enumerate(["acknowledgement", "offer", "acknowledgement", "offer", "acknowledgement"]):
            session.add(
                Reply(
                    claim_id=claim_id,
                    kind=kind,
                    language="en",
                    to_address="client0@example.com",
                    subject="s",
                    body_text="b",
                    message_id=f"<r{i}@example.com>",
                    status=ReplyStatus.DRAFT,
                    created_at=utcnow(),
                )
            )
    with database.session_scope(book_engine) as session:
        first = finder.replies_page(session, finder.ReplyFilter(), size=2)
        rest = finder.replies_page(session, finder.ReplyFilter(), after=first.next_after, size=10)
        assert first.total == 5 and len(first.replies) == 2 and len(rest.replies) == 3
        assert rest.next_after is None
        no_offers = finder.replies_page(session, finder.ReplyFilter(not_kinds=frozenset({"offer"})))
        assert no_offers.total == 3 and {r.kind for r in no_offers.replies} == {"acknowledgement"}


def test_the_claims_view_filters_by_owner_account_and_offer_and_walks_either_way(
    tmp_path: Path,
) -> None:
    engine = schema.open_engine(make_settings(tmp_path / "data"))
    fill(engine, 6)
    with database.session_scope(engine) as session:
        for claim_id in (2, 4):
            claim = session.get(Claim, claim_id)
            assert claim is not None
            claim.owner = "ann"
        offer = session.exec(select(Reply).where(Reply.claim_id == 5, Reply.kind == "offer")).one()
        offer.amount = Decimal("5000.00")
    with database.session_scope(engine) as session:
        mine = finder.ClaimFilter(owner="ann")
        assert [c.id for c in finder.claims_page(session, mine).claims] == [4, 2]
        assert [c.id for c in finder.claims_page(session, finder.ClaimFilter(owner="")).claims] == [
            6,
            5,
            3,
            1,
        ]
        by_account = finder.ClaimFilter(account="80000003")
        assert [c.id for c in finder.claims_page(session, by_account).claims] == [3]
        large = finder.ClaimFilter(min_minor=hundredths(Decimal("4999.99")))
        assert [c.id for c in finder.claims_page(session, large).claims] == [5]
        oldest = finder.ClaimFilter(oldest_first=True)
        first = finder.claims_page(session, oldest, size=4)
        assert [c.id for c in first.claims] == [1, 2, 3, 4]
        assert [c.id for c in finder.claims_page(session, oldest, before=first.next_key).claims] == [5, 6]
        assert finder.claim_neighbours(session, oldest, 3) == (2, 4)
        assert finder.claim_neighbours(session, finder.ClaimFilter(), 3) == (4, 2)
        assert finder.claim_neighbours(session, mine, 4) == (None, 2)
