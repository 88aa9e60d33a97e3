"""Every letter as a client reads it: each kind in each language, and offers for generated
claims (orders assessed by ``bot.stages.assess`` and stored as the pipeline stores them). A
Chinese letter's Chinese half has no English word in it, no letter leaves a placeholder
unrendered, and both halves state the same figures (amounts, prices, order numbers, dates and
times), so a client reading either half reads the same offer."""

from __future__ import annotations

import html
import random
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from bot.claims.replies import offered_orders
from bot.claims.samples import STAFF_WORDS
from bot.config import DEFAULT_TEMPLATES
from bot.stages.assess import Conversion, Quote, WindowPrices, assess
from bot.stages.draft import HTML_SEPARATOR, KINDS, SEPARATOR, DraftedReply, PerLanguage, draft, option_totals
from bot.stages.match import OrderMatch, Outcome
from bot.storage.store import assessed_order
from bot.storage.tables import Symbol, TradeOrder
from tests.stages.reply_contexts import HK, LETTERS, SAMPLES

START = datetime(2019, 6, 26, 10, 58, tzinfo=UTC)
END = datetime(2019, 6, 27, 21, 30, tzinfo=UTC)
SYMBOLS = {
    "XAUUSD": (
        Symbol(symbol="XAUUSD", contract_size=Decimal(100), profit_currency="USD", digits=2),
        "1409.35",
    ),
    "EURUSD": (
        Symbol(symbol="EURUSD", contract_size=Decimal(100000), profit_currency="USD", digits=5),
        "1.13456",
    ),
    "USDJPY": (
        Symbol(symbol="USDJPY", contract_size=Decimal(100000), profit_currency="JPY", digits=3),
        "107.812",
    ),
}
# What the staff write in a letter (bot.claims.samples.STAFF_WORDS) they write in the client's
# language; a configured text comes in every language.
DELAY = PerLanguage(
    en="we are still reconciling the reference prices for gold",
    **{"zh-Hans": "我们仍在核对黄金的参考价格", "zh-Hant": "我們仍在核對黃金的參考價格"},
)


def _tick(rng: random.Random, base: Decimal, spread: Decimal) -> Quote:
    moment = START + timedelta(minutes=rng.randrange(0, 630))
    return Quote((base * Decimal(1 + rng.uniform(-0.01, 0.01))).quantize(spread), moment)


def generated_offer(seed: int) -> dict[str, Any]:
    """An offer for a claim of one to three random orders, assessed and stored as the pipeline does."""
    rng = random.Random(seed)
    rows, records = [], {}
    for n in range(rng.randint(1, 3)):
        name = rng.choice(sorted(SYMBOLS))
        symbol, base_text = SYMBOLS[name]
        base, step = Decimal(base_text), Decimal(1).scaleb(-symbol.digits)
        low, high = sorted([_tick(rng, base, step), _tick(rng, base, step)], key=lambda q: q.price)
        window = WindowPrices(
            low, high, Quote(low.price + step * 3, low.time), Quote(high.price + step * 3, high.time)
        )
        category = rng.choice([1, 2])
        opened = START + timedelta(minutes=rng.randrange(0, 600))
        closed = None if category == 1 and rng.random() < 0.5 else END + timedelta(hours=rng.randint(0, 5))
        order = TradeOrder(
            ticket=str(55_000_000 + seed * 10 + n),
            login="81234567",
            symbol=name,
            side=rng.choice(["buy", "sell"]),
            lots=Decimal(rng.choice(["0.01", "0.5", "1", "2.3"])),
            open_time=opened,
            open_price=(base * Decimal(1 + rng.uniform(-0.02, 0.02))).quantize(step),
            close_time=closed,
            close_price=None
            if closed is None
            else (base * Decimal(1 + rng.uniform(-0.03, 0.03))).quantize(step),
            close_reason="stop_out" if category == 2 else "client",
            commission=Decimal(rng.choice(["0", "-7.00"])),
            profit=None
            if closed is None
            else Decimal(rng.randint(-150_000, 50_000)) / rng.choice([100, 1000]),
        )
        conversion = (
            Conversion(
                "JPY",
                "USD",
                1 / Decimal("107.6"),
                "USDJPY",
                END - timedelta(minutes=1),
                Decimal("107.6"),
                True,
            )
            if symbol.profit_currency == "JPY"
            else Conversion("USD", "USD", Decimal(1))
        )
        found = assess(
            order, category, symbol=symbol, window=window, start=START, end=END, conversion=conversion
        )
        rows.append(
            assessed_order(
                1, OrderMatch(order.ticket, Outcome.ELIGIBLE, category, order, order.ticket), found
            )
        )
        records[order.ticket] = order
    orders, ineligible = offered_orders(rows, records, HK)
    return {**SAMPLES["offer"], "orders": orders, "ineligible": ineligible, "totals": option_totals(orders)}


def _context(kind: str, language: str) -> dict[str, Any]:
    context = dict(SAMPLES[kind])
    for key, texts in STAFF_WORDS.items():
        if key in context and kind != "delay" and language != "en":
            context[key] = PerLanguage(texts)
    if kind == "delay":
        context["reason"] = DELAY
    return context


def halves(reply: DraftedReply) -> list[tuple[str, str]]:
    """(language, text) of each half of the text part and of the HTML part, tags stripped."""
    text = reply.body.split(SEPARATOR)
    page = [html.unescape(re.sub(r"<[^>]+>", " ", part)) for part in reply.html.split(HTML_SEPARATOR)]
    if reply.language == "en":
        return [("en", text[0]), ("en", page[0])]
    assert len(text) == 2 and len(page) == 2, "a Chinese letter has its English copy below one divider"
    return [(reply.language, text[0]), ("en", text[1]), (reply.language, page[0]), ("en", page[1])]


# What a Chinese half may spell in Latin letters: the sample client's name, the broker's contact
# lines, trading symbols, ISO currency codes, claim references, times' zones.
ALLOWED_LATIN = re.compile(
    r"Alice Chen|[\w.+-]+@[\w.-]+|https?://\S+|\b(?:XAUUSD|EURUSD|USDJPY|USD|JPY|EUR|HKD|UTC|GMT)\b|CLM-\d{4}-\d+"
)
PLACEHOLDER = re.compile(r"\{\{|\}\}|\{%|%\}|\{#|#\}|\bUndefined\b|\bNone\b")


def english_words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z]{4,}", ALLOWED_LATIN.sub(" ", text))


MONTHS = {
    m: i
    for i, m in enumerate(
        [
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ],
        1,
    )
}


def figures(text: str) -> set[str]:
    """The figures a half states: dates as ISO days, times, and every other number (commas
    dropped, so ``1,179.00`` is ``1179.00``)."""
    found: set[str] = set(re.findall(r"CLM-\d{4}-\d+", text))
    text = re.sub(r"CLM-\d{4}-\d+", " ", text)

    def day(y: str, m: int, d: str) -> str:
        found.add(date(int(y), m, int(d)).isoformat())
        return " "

    text = re.sub(r"(\d{4})年(\d{1,2})月(\d{1,2})日", lambda g: day(g[1], int(g[2]), g[3]), text)
    text = re.sub(
        r"\b(" + "|".join(MONTHS) + r") (\d{1,2}), (\d{4})", lambda g: day(g[3], MONTHS[g[1]], g[2]), text
    )
    text = re.sub(
        r"\b(\d{1,2}) (" + "|".join(MONTHS) + r") (\d{4})", lambda g: day(g[3], MONTHS[g[2]], g[1]), text
    )
    text = re.sub(r"(\d{4})-(\d{2})-(\d{2})", lambda g: day(g[1], int(g[2]), g[3]), text)
    for clock in re.findall(r"\b\d{1,2}:\d{2}\b", text):
        found.add(clock)
    text = re.sub(r"\b\d{1,2}:\d{2}\b|UTC[+-]\d{2}:\d{2}", " ", text)
    found |= {number.replace(",", "") for number in re.findall(r"-?\d[\d,]*(?:\.\d+)?", text)}
    return found


LETTERS_TO_CHECK = [(kind, language) for kind in KINDS for language in ("en", "zh-Hans", "zh-Hant")]


@pytest.mark.parametrize(("kind", "language"), LETTERS_TO_CHECK)
def test_every_letter_is_wholly_in_its_language_with_nothing_left_unrendered(
    kind: str, language: str
) -> None:
    reply = draft(kind, language, _context(kind, language), templates_dir=DEFAULT_TEMPLATES)
    assert not PLACEHOLDER.search(reply.subject + reply.body + reply.html)
    for half_language, text in halves(reply):
        if half_language != "en":
            assert english_words(text) == [], f"{kind}.{language}: English in the Chinese half"
        else:
            assert not re.search(r"[\u4e00-\u9fff]", ALLOWED_LATIN.sub(" ", text)), (
                f"{kind}: Chinese in English"
            )
    if language != "en":
        assert english_words(reply.subject) == []
    assert LETTERS["sign_off"][language] in reply.body and LETTERS["broker_name"][language] in reply.html


@pytest.mark.parametrize(("kind", "language"), [(k, lang) for k, lang in LETTERS_TO_CHECK if lang != "en"])
def test_both_halves_of_a_chinese_letter_state_the_same_figures(kind: str, language: str) -> None:
    reply = draft(kind, language, _context(kind, language), templates_dir=DEFAULT_TEMPLATES)
    chinese_text, english_text, chinese_page, english_page = (text for _, text in halves(reply))
    assert figures(chinese_text) == figures(english_text)
    assert figures(chinese_page) == figures(english_page)


@pytest.mark.parametrize("seed", range(30))
@pytest.mark.parametrize("language", ["zh-Hans", "zh-Hant"])
def test_offers_for_generated_claims_state_the_same_figures_in_both_halves(seed: int, language: str) -> None:
    context = generated_offer(seed)
    reply = draft("offer", language, context, templates_dir=DEFAULT_TEMPLATES)
    chinese_text, english_text, chinese_page, english_page = (text for _, text in halves(reply))
    assert english_words(chinese_text) == [] and english_words(chinese_page) == []
    assert figures(chinese_text) == figures(english_text)
    assert figures(chinese_page) == figures(english_page)
    for order in context["orders"]:
        for remedy in order["remedies"]:
            assert remedy["workings"] is not None and remedy["workings"].amount == remedy["amount"]
            stated = f"{remedy['amount']:,}"
            assert stated in chinese_text and stated in english_text


def test_an_offer_for_two_orders_states_the_total_of_each_option() -> None:
    context = next(c for c in map(generated_offer, range(100)) if len(c["orders"]) == 2)
    reply = draft("offer", "zh-Hans", context, templates_dir=DEFAULT_TEMPLATES)
    for total in context["totals"]:
        for _, amount in total["amounts"]:
            assert f"{amount:,}" in reply.body.split(SEPARATOR)[0]
    assert "2 个订单合计" in reply.body


def test_an_order_assessed_before_its_workings_were_kept_is_explained_in_the_english_copy_only() -> None:
    context = generated_offer(1)
    for order in context["orders"]:
        for remedy in order["remedies"]:
            remedy["workings"] = None
    reply = draft("offer", "zh-Hant", context, templates_dir=DEFAULT_TEMPLATES)
    chinese, english = reply.body.split(SEPARATOR)
    assert "計算方法" not in chinese and english_words(chinese) == []
    assert "How we computed it: " + context["orders"][0]["remedies"][0]["explanation"][:30] in " ".join(
        english.split()
    )


def values(text: str) -> list[Decimal]:
    """The numbers of a computation, in order, as values (``1,179.00`` and ``1179`` are one),
    leaving out its dates and times (the staff's line gives them in UTC, the letter locally)."""
    text = re.sub(
        r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC|\d{4}年\d{1,2}月\d{1,2}日 \d{2}:\d{2} UTC[+-]\d{2}:\d{2}",
        " ",
        text,
    )
    text = re.sub(
        r"\b(?:" + "|".join(MONTHS) + r") \d{1,2}, \d{4}, \d{2}:\d{2} UTC[+-]\d{2}:\d{2}", " ", text
    )
    return [Decimal(n.replace(",", "")).normalize() for n in re.findall(r"-?\d[\d,]*(?:\.\d+)?", text)]


@pytest.mark.parametrize("seed", range(30))
def test_the_letters_computation_states_the_figures_of_the_staffs_explanation(seed: int) -> None:
    context = generated_offer(seed)
    remedies = [
        r for order in context["orders"] for r in sorted(order["remedies"], key=lambda r: r["number"])
    ]
    for language, label in (
        ("zh-Hans", "计算方法："),
        ("zh-Hant", "計算方法："),
        ("en", "How we computed it: "),
    ):
        page = draft("offer", language, context, templates_dir=DEFAULT_TEMPLATES).html.split(HTML_SEPARATOR)[
            0
        ]
        worded = [html.unescape(w) for w in re.findall(re.escape(label) + r"(.*?)</li>", page, re.S)]
        assert len(worded) == len(remedies)
        for remedy, words in zip(remedies, worded, strict=True):
            assert sorted(values(words)) == sorted(values(remedy["explanation"])), (
                language,
                words,
                remedy["explanation"],
            )
