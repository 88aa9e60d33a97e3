"""The digest's figures at incident scale: 2,000 claims stored by ``tests.scale.fill_digest``,
whose rules (``tests/scale.py``) decide every figure, so that each expected value below is
worked out from those rules, not read back with the digest's own queries.
"""

from __future__ import annotations

import io
import re
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy
import pytest
from PIL import Image
from sqlalchemy import Engine

from bot.claims.deadlines import BROKER
from bot.mail import digest_mail
from bot.reports import digest, digest_chart, digest_figures, digest_letter, digest_words
from bot.storage import database, schema
from tests.conftest import make_settings
from tests.scale import (
    DIGEST_REASONS,
    DIGEST_STAFF,
    PlannedClaim,
    fill_digest,
    is_large_offer,
    plan_digest,
)

HK = ZoneInfo("Asia/Hong_Kong")
NOW = datetime(2024, 3, 15, 0, 30, tzinfo=UTC)  # Friday 15 March, 08:30 in Hong Kong
SINCE = NOW - timedelta(days=1)
# A Monday and a Thursday the ages step over, and a Saturday that changes nothing.
HOLIDAYS = (date(2024, 3, 11), date(2024, 2, 29), date(2024, 2, 24))
CLAIMS = 2_000
BASE_URL = "https://claims.broker.example"
REFERENCE = re.compile(r"CLM-2024-(\d{6})")


@pytest.fixture(scope="module")
def plans() -> list[PlannedClaim]:
    return plan_digest(CLAIMS, now=NOW, tz=HK, holidays=HOLIDAYS)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory, plans: list[PlannedClaim]) -> Engine:
    settings = make_settings(tmp_path_factory.mktemp("digest-figures") / "data")
    engine = schema.open_engine(settings)
    fill_digest(engine, plans, now=NOW)
    return engine


@pytest.fixture(scope="module")
def gathered(engine: Engine) -> digest.Digest:
    with database.session_scope(engine) as session:
        return digest.gather(
            session, since=SINCE, now=NOW, rules=BROKER, holidays=HOLIDAYS, tz=HK, warn_days=2
        )


def compose(figures: digest.Digest, language: str = "en", base_url: str = "") -> EmailMessage:
    return digest_letter.compose_digest(
        figures,
        from_address="claimsbot@broker.example",
        to=["managers@broker.example"],
        message_id_domain="claims.broker.example",
        language=language,
        base_url=base_url,
    )


def parts(message: EmailMessage) -> tuple[str, str]:
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and html is not None
    return str(text.get_content()), str(html.get_content())


def test_the_exposure_per_currency_is_what_the_generator_put_at_each_step(
    plans: list[PlannedClaim], gathered: digest.Digest
) -> None:
    steps: dict[str, dict[str, Decimal]] = {
        s: defaultdict(Decimal) for s in ("assessed", "offered", "consented", "settled")
    }
    for plan in plans:
        for order in plan.orders:
            if order.outcome != "eligible":
                continue  # the already-claimed order of every assessed claim counts nowhere
            if plan.offered_at is not None:
                steps["offered"][order.currency] += order.larger
            elif plan.closed_at is None:
                steps["assessed"][order.currency] += order.larger
            if plan.state in ("consented", "settled"):
                steps[plan.state][order.currency] += order.chosen_amount or Decimal(0)
    assert gathered.assessed == steps["assessed"]
    assert gathered.offered == steps["offered"]
    assert gathered.consented == steps["consented"]
    assert gathered.settled == steps["settled"]
    assert gathered.currencies == ["HKD", "JPY", "USD"]
    # Assessed and not offered: the 200 assessed claims and the 100 escalated ones never offered
    # (n % 20 == 6), two orders each.
    assessed_orders = sum(
        1 for p in plans if p.offered_at is None and p.closed_at is None for _ in p.orders[:2]
    )
    assert assessed_orders == 2 * (200 + 100)


def test_claims_resolved_in_the_period_are_those_closed_in_it(gathered: digest.Digest) -> None:
    # The j-th closed claim closes j % 50 + 1 hours before now: in the last 24 hours (the one
    # 24 hours before, exactly at ``since``, included) when j % 50 <= 23; odd j are rejected
    # (n = 1, 11, 21...), even j settled (n = 10, 20...).
    inside = [j for j in range(1, 401) if j % 50 <= 23]
    assert len(inside) == 23 + 7 * 24 + 1 == 192
    assert gathered.resolved == {"settled": 96, "rejected": 96}
    assert gathered.resolved_count == 192


def test_median_and_90th_percentile_are_the_nearest_rank_of_the_times_built_in(
    gathered: digest.Digest,
) -> None:
    # First responses: the k-th of the 1,800 claims with a reply sent got it k seconds after it
    # came: nearest rank 900 and 1,620.
    assert gathered.first_response == digest.Spread(1800, timedelta(seconds=900), timedelta(seconds=1620))
    # Resolutions: the j-th of the 400 closed claims took j * 61 minutes: ranks 200 and 360.
    assert gathered.resolution == digest.Spread(400, timedelta(minutes=200 * 61), timedelta(minutes=360 * 61))
    text, html = parts(compose(gathered))
    for shown in ("15 min", "27 min", "8 d 11 h", "15 d 6 h"):  # 12,200 and 21,960 minutes, truncated
        assert shown in text and shown in html, shown


def test_the_backlog_by_age_counts_business_days_after_the_day_of_receipt(
    plans: list[PlannedClaim], gathered: digest.Digest
) -> None:
    # The i-th of the 1,600 open claims is i % 20 business days old: 80 claims of each age 0..19.
    assert [(b.low, b.high, b.count) for b in gathered.backlog_by_age] == [
        (0, 1, 80),
        (1, 3, 160),
        (3, 7, 320),
        (7, 14, 560),
        (14, None, 480),
    ]
    assert sum(b.count for b in gathered.backlog_by_age) == gathered.open_claims == 1600
    # The generator's days checked by another calendar: numpy counts business days in [begin, end).
    today = NOW.astimezone(HK).date()
    weekend_or_holiday = 0
    for plan in plans:
        if plan.age is None:
            continue
        received = plan.created_at.astimezone(HK).date()
        counted = numpy.busday_count(
            received + timedelta(days=1), today + timedelta(days=1), holidays=list(HOLIDAYS)
        )
        assert counted == plan.age, plan
        weekend_or_holiday += received.weekday() >= 5 or received in HOLIDAYS
    assert weekend_or_holiday > 50, "some claims arrive on days that are not business days"


def test_approvals_in_the_period_are_counted_per_person_and_step(
    plans: list[PlannedClaim], gathered: digest.Digest
) -> None:
    expected: dict[str, dict[str, int]] = defaultdict(lambda: {"single": 0, "first": 0, "second": 0})

    def within(minutes_before_now: int) -> bool:
        return 0 < minutes_before_now <= 24 * 60

    for plan in plans:
        n = plan.n
        if plan.first_sent is None:
            continue
        if within(5 * n):
            expected[DIGEST_STAFF[n % 4]]["single"] += 1
        if plan.offered_at is not None and is_large_offer(plan):
            if within(5 * n + 2):
                expected[DIGEST_STAFF[(n + 1) % 4]]["first"] += 1
            if within(5 * n + 1):
                expected[DIGEST_STAFF[(n + 2) % 4]]["second"] += 1
        elif plan.offered_at is not None and within(5 * n + 3):
            expected[DIGEST_STAFF[(n + 3) % 4]]["single"] += 1
    got = {
        row.person: {"single": row.single, "first": row.first, "second": row.second}
        for row in gathered.approvals
    }
    assert got == expected
    assert sum(row["first"] for row in got.values()) == sum(row["second"] for row in got.values()) == 15
    totals = [row.total for row in gathered.approvals]
    assert totals == sorted(totals, reverse=True)


def test_the_deadlines_and_escalations_show_a_few_lines_and_count_them_all(gathered: digest.Digest) -> None:
    assert gathered.overdue > 100 and gathered.due_soon > 10
    text, html = parts(compose(gathered))
    deadlines = text.split("\nDEADLINES")[1].split("\nESCALATED")[0]
    assert f"Overdue: {gathered.overdue:,} claims (the 10 due earliest below)" in deadlines
    assert f"Due within 2 days: {gathered.due_soon:,} claims (the 10 due earliest below)" in deadlines
    assert len(REFERENCE.findall(deadlines)) == 20
    shown = [m.group(0) for m in REFERENCE.finditer(deadlines)]
    late = [c.reference for c in gathered.late]
    earliest = [c.reference for c in gathered.late if c.standing == "overdue"][:10]
    assert shown[:10] == earliest and set(shown) <= set(late)
    section = html.split("Deadlines (")[1].split("Escalated</h2>")[0]
    assert section.count("<tr>") == 2 * (1 + 10)

    escalated = text.split("\nESCALATED")[1].split("\nQUARANTINED")[0]
    groups = gathered.escalated_by_reason
    assert [g.count for g in groups] == [67, 67, 66] and len(gathered.escalated) == 200
    for group in groups:
        assert f"{group.count} claims (the 5 oldest below)" in escalated
    assert len(REFERENCE.findall(escalated)) == 15
    assert html.split("Escalated</h2>")[1].split("Quarantined")[0].count("<li>") == 15


def test_the_quarantine_shows_its_count_its_oldest_and_its_newest(gathered: digest.Digest) -> None:
    assert gathered.quarantined == 30
    assert gathered.oldest_quarantined is not None
    assert gathered.oldest_quarantined.received_at == NOW - timedelta(hours=30)
    assert [m.received_at for m in gathered.newest_quarantined] == [
        NOW - timedelta(hours=h) for h in range(1, 6)
    ]
    text, html = parts(compose(gathered))
    for part in (text, html):
        assert "30 held; the newest 5 below" in part
        assert "oldest held 1 d 6 h, since 2024-03-14 02:30" in part


def test_every_claim_reference_links_to_its_page_when_the_base_url_is_set(gathered: digest.Digest) -> None:
    text, html = parts(compose(gathered, base_url=BASE_URL))
    links = re.findall(
        r'<a href="https://claims\.broker\.example/claims/(\d+)"[^>]*>CLM-2024-(\d{6})</a>', html
    )
    assert len(links) == len(REFERENCE.findall(html)) >= 1 + 20 + 15
    assert all(int(claim_id) == int(number) for claim_id, number in links)
    printed = re.findall(r"CLM-2024-(\d{6}) <https://claims\.broker\.example/claims/(\d+)>", text)
    assert len(printed) == len(REFERENCE.findall(text)) >= 1 + 20 + 15
    assert all(int(claim_id) == int(number) for number, claim_id in printed)

    text, html = parts(compose(gathered))
    assert "<a " not in html and "https://" not in text and "/claims/" not in text + html


class _Visible(HTMLParser):
    """What a reader of the HTML sees: its text, and the alt and title texts."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def handle_data(self, data: str) -> None:
        self.seen.append(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.seen.extend(value or "" for name, value in attrs if name in ("alt", "title"))


def _english_words(text: str, data: list[str]) -> list[str]:
    """Words of four letters or more left after the references, addresses, URLs and the stored
    data that is shown as written (staff names, reasons, senders, subjects)."""
    for value in sorted(data, key=len, reverse=True):
        text = text.replace(value, " ")
    text = re.sub(r"https?://\S+|\S+@\S+|CLM-\d{4}-\d{6}", " ", text)
    return re.findall(r"[A-Za-z]{4,}", text)


@pytest.mark.parametrize("language", ["zh-Hans", "zh-Hant"])
def test_a_chinese_digest_has_no_english_words_of_its_own(gathered: digest.Digest, language: str) -> None:
    message = compose(gathered, language=language, base_url=BASE_URL)
    text, html = parts(message)
    visible = _Visible()
    visible.feed(html)
    data = [
        *DIGEST_STAFF,
        *(r for r in DIGEST_REASONS if r),
        *(
            v
            for m in [*gathered.newest_quarantined, gathered.oldest_quarantined]
            if m
            for v in (m.subject, m.reason)
        ),
    ]
    for part in (str(message["Subject"]), text, " ".join(visible.seen)):
        assert _english_words(part, data) == [], part[:400]
    assert str(message["Subject"]).startswith("索赔日报" if language == "zh-Hans" else "索償日報")
    assert f'lang="{language}"' in html
    chart_words, _ = digest_chart.chart_words(language)
    labels = [chart_words.chart_title, chart_words.chart_x, chart_words.chart_y, *chart_words.buckets]
    assert _english_words(" ".join(labels), []) == []
    # The text and the HTML carry the same figures.
    for figure in (
        f"{gathered.open_claims:,}",
        "8天11",
        *(f"{b.count:,} 宗" for b in gathered.backlog_by_age),
        *(digest_letter._money(v, c) for c, v in gathered.offered.items()),
        *(digest_letter._money(v, c) for c, v in gathered.assessed.items()),
    ):
        assert figure in text and figure in html, figure


def test_the_english_digest_keeps_its_chinese_summary_and_text_and_html_agree(
    gathered: digest.Digest,
) -> None:
    text, html = parts(compose(gathered))
    figures = [
        f"摘要：新增索偿 {gathered.new_claims} 宗，待批覆函 {gathered.drafts_waiting} 封，"
        f"逾期 {gathered.overdue} 宗",
        *(
            digest_letter._money(amounts.get(c, Decimal(0)), c)
            for c in gathered.currencies
            for amounts in (gathered.assessed, gathered.offered, gathered.consented, gathered.settled)
        ),
        "[14, ∞)",
        "1,600",
        "settled 96, rejected 96",
    ]
    for figure in figures:
        assert figure in text and figure in html, figure
    for row in gathered.approvals:
        line = f"{row.person:<20}{row.single:>8}{row.first:>14}{row.second:>15}{row.total:>8}"
        assert line in text


@pytest.mark.parametrize("language", ["en", "zh-Hans", "zh-Hant"])
def test_the_chart_is_a_png_of_the_expected_size(gathered: digest.Digest, language: str) -> None:
    png = digest_chart.chart_png(gathered, language)
    with Image.open(io.BytesIO(png)) as image:
        image.load()
        assert image.format == "PNG" and image.size == (600, 250)


def test_without_a_cjk_font_the_chart_falls_back_to_english_labels(
    gathered: digest.Digest, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert digest_chart.chart_words("zh-Hant")[1] is not None, "fonts-noto-cjk is installed here"
    monkeypatch.setattr(digest_chart, "cjk_family", lambda language: None)
    assert digest_chart.chart_words("zh-Hant") == (digest_words.ENGLISH, None)
    with Image.open(io.BytesIO(digest_chart.chart_png(gathered, "zh-Hant"))) as image:
        assert image.size == (600, 250)


def test_the_alt_text_says_what_the_chart_shows(gathered: digest.Digest) -> None:
    _, html = parts(compose(gathered))
    alt = re.search(r'alt="([^"]*)"', html)
    assert alt is not None
    assert alt.group(1) == (
        "Bar chart of the 1,600 open claims by age in business days since receipt: "
        "under 1: 80; 1-2: 160; 3-6: 320; 7-13: 560; 14 or more: 480."
    )


def test_nearest_rank_is_exact_and_one_of_the_values() -> None:
    assert digest_figures.nearest_rank(list(range(1, 11)), 50) == 5
    assert digest_figures.nearest_rank(list(range(1, 11)), 90) == 9
    assert digest_figures.nearest_rank(list(range(1, 12)), 90) == 10  # ceil(9.9)
    assert digest_figures.nearest_rank([4, 1, 3, 2], 50) == 2  # the lower middle value
    assert digest_figures.nearest_rank([7], 90) == 7
    assert digest_figures.nearest_rank([3, 9], 100) == 9
    with pytest.raises(ValueError):
        digest_figures.nearest_rank([], 50)
    assert digest_figures.spread([]) == digest.Spread(0, None, None)


def test_business_days_after_skip_weekends_and_holidays() -> None:
    friday, monday = date(2024, 3, 8), date(2024, 3, 11)
    assert digest_figures.business_days_after(friday, friday, ()) == 0
    assert digest_figures.business_days_after(friday, monday, ()) == 1
    assert digest_figures.business_days_after(friday, monday, (monday,)) == 0
    assert digest_figures.business_days_after(date(2024, 3, 9), monday, ()) == 1  # received on Saturday
    assert digest_figures.business_days_after(monday, friday, ()) == 0  # later than today


def test_the_digest_mail_reads_language_links_and_zone_from_the_settings(
    engine: Engine, tmp_path: Path
) -> None:
    settings = make_settings(
        tmp_path / "data",
        digest={
            "recipients": ["managers@broker.example"],
            "language": "zh-Hant",
            "timezone": "Europe/London",
        },
        web={"base_url": BASE_URL + "/"},
    )
    message, figures = digest_mail.compose(settings, engine, now=NOW)
    text, html = parts(message)
    assert str(message["Subject"]).startswith("索償日報 2024-03-15：")
    assert "數據截至 2024-03-15 00:30（UTC+00:00）" in text
    assert f'<a href="{BASE_URL}/claims/' in html and f"<{BASE_URL}/claims/" in text
    assert figures.backlog_by_age[-1].count + figures.backlog_by_age[0].count > 0
