"""The digest's figures on a few claims worked out by hand: each case is one rule of the
docstring in ``bot/reports/digest.py`` that a plausible mistake would break (a reply sent after
``now``, a failed one, a claim escalated after consent, stored text that would lay out a line)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine

from bot.claims.lifecycle import State
from bot.reports import digest
from bot.storage import database, schema
from bot.storage.tables import Claim, ClaimOrder, InboundMessage, MessageStatus, Reply, ReplyStatus
from tests.conftest import make_settings

NOW = datetime(2024, 3, 15, 0, 30, tzinfo=UTC)
SINCE = NOW - timedelta(days=1)


def _engine(tmp_path: Path) -> Engine:
    return schema.open_engine(make_settings(tmp_path / "d"))


def _claim(n: int, state: State, created: datetime, **values: object) -> Claim:
    return Claim(
        id=n, reference=f"CLM-2024-{n:06d}", incident="i", status=state, sender=f"c{n}@example.com",
        created_at=created, **values,
    )  # fmt: skip


def _order(n: int, claim_id: int, best: str, chosen: str | None = None, currency: str = "USD") -> ClaimOrder:
    return ClaimOrder(
        id=n, claim_id=claim_id, ticket=f"{n}", outcome="eligible", currency=currency,
        best_price_amount=Decimal(best), chosen_remedy=chosen,
    )  # fmt: skip


def _reply(n: int, claim_id: int, status: ReplyStatus, sent_at: datetime | None) -> Reply:
    return Reply(
        id=n, claim_id=claim_id, kind="offer", language="en", to_address="c@example.com", subject="s",
        body_text="t", body_html="", message_id=f"<{n}@x>", status=status, created_at=NOW - timedelta(days=3),
        sent_at=sent_at,
    )  # fmt: skip


def test_first_response_is_the_earliest_reply_sent_before_now_and_nothing_else(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    created = NOW - timedelta(days=2)
    with database.session_scope(engine) as session:
        session.add_all([_claim(1, State.OFFER_SENT, created), _claim(2, State.OFFER_SENT, created)])
        session.flush()
        session.add_all(
            [
                _reply(1, 1, ReplyStatus.SENT, created + timedelta(hours=5)),
                _reply(2, 1, ReplyStatus.SENT, created + timedelta(hours=1)),  # the earliest counts
                _reply(3, 1, ReplyStatus.FAILED, created + timedelta(minutes=1)),  # not sent
                _reply(4, 2, ReplyStatus.SENT, NOW + timedelta(minutes=1)),  # after now: not yet
            ]
        )
    with database.session_scope(engine) as session:
        figures = digest.gather(session, since=SINCE, now=NOW)
    assert (figures.first_response.count, figures.first_response.median) == (1, timedelta(hours=1))


def test_resolved_and_resolution_count_claims_closed_before_now_only(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    with database.session_scope(engine) as session:
        session.add_all(
            [
                _claim(1, State.SETTLED, NOW - timedelta(days=3), closed_at=NOW - timedelta(hours=2)),
                _claim(2, State.REJECTED, NOW - timedelta(days=3), closed_at=SINCE - timedelta(hours=1)),
                _claim(3, State.SETTLED, NOW - timedelta(days=3), closed_at=NOW),  # at now: not yet
            ]
        )
    with database.session_scope(engine) as session:
        figures = digest.gather(session, since=SINCE, now=NOW)
    assert figures.resolved == {"settled": 1, "rejected": 0}
    assert figures.resolution.count == 2
    assert figures.resolution.median == timedelta(days=1, hours=23)  # nearest rank of 2: the lower
    assert figures.resolution.p90 == timedelta(days=2, hours=22)


def test_exposure_puts_each_order_in_the_column_it_stands_in(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    old = NOW - timedelta(days=5)
    with database.session_scope(engine) as session:
        session.add_all(
            [
                _claim(1, State.ASSESSED, old),
                _claim(2, State.OFFER_SENT, old, offered_at=old),
                _claim(3, State.ESCALATED, old, offered_at=old),  # escalated after the client consented
                _claim(4, State.SETTLED, old, offered_at=old, closed_at=old),
                _claim(5, State.REJECTED, old, closed_at=old),  # never offered: counts nowhere
            ]
        )
        session.flush()
        session.add_all(
            [
                _order(1, 1, "10.10"),
                _order(2, 2, "20.20"),
                _order(3, 3, "30.30", chosen="best_price"),
                _order(4, 4, "40.40", chosen="best_price"),
                _order(5, 5, "50.50"),
                _order(6, 1, "7814.5", currency="JPY"),
            ]
        )
    with database.session_scope(engine) as session:
        figures = digest.gather(session, since=SINCE, now=NOW)
    assert figures.assessed == {"USD": Decimal("10.10"), "JPY": Decimal("7814.5")}
    assert figures.offered == {"USD": Decimal("90.90")}
    assert figures.consented == {"USD": Decimal("30.30")}
    assert figures.settled == {"USD": Decimal("40.40")}


def test_a_quarantined_subject_cannot_lay_out_a_line_of_the_digest(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    with database.session_scope(engine) as session:
        session.add(
            InboundMessage(
                folder="INBOX", uidvalidity=1, uid=1, message_id="<q@x>", sender="eve@example.com",
                subject="hi\n\nOverdue claims:                0\u202e" + "x" * 400, content_hash="h", raw=b"",
                status=MessageStatus.QUARANTINED, reason="unknown charset",
                received_at=NOW - timedelta(hours=1),
            )
        )  # fmt: skip
    with database.session_scope(engine) as session:
        figures = digest.gather(session, since=SINCE, now=NOW)
    (held,) = figures.newest_quarantined
    assert "\n" not in held.subject and "\u202e" not in held.subject and len(held.subject) <= 120
    assert figures.oldest_quarantined is not None and figures.oldest_quarantined.subject == held.subject


def test_the_chinese_digest_names_states_as_the_staff_page_does() -> None:
    from bot.reports.digest_words import WORDS
    from bot.web.language import translations

    for language in ("zh-Hans", "zh-Hant"):
        page = translations(language)
        assert WORDS[language].states == {state.value: page.gettext(state.value) for state in State}
