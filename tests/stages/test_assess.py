"""The worked examples of docs/compensation.md, and properties that must hold for any order."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

from hypothesis import given
from hypothesis import strategies as st

from bot.stages.assess import Conversion, Quote, WindowPrices, assess, round_money, window_prices
from bot.storage.tables import Symbol, TradeOrder

START = datetime(2019, 6, 26, 10, 58, tzinfo=UTC)
END = datetime(2019, 6, 26, 21, 30, tzinfo=UTC)
INSIDE = datetime(2019, 6, 26, 12, 15, tzinfo=UTC)
AFTER = datetime(2019, 6, 27, 8, 0, tzinfo=UTC)
BEFORE = datetime(2019, 6, 26, 9, 0, tzinfo=UTC)
T = datetime(2019, 6, 26, 16, 35, tzinfo=UTC)

EURUSD = Symbol(symbol="EURUSD", contract_size=D("100000"), profit_currency="USD", digits=5)
XAUUSD = Symbol(symbol="XAUUSD", contract_size=D("100"), profit_currency="USD", digits=2)
USDJPY = Symbol(symbol="USDJPY", contract_size=D("100000"), profit_currency="JPY", digits=3)
SAME_USD = Conversion("USD", "USD", D(1))


def prices(low_bid: str, high_bid: str, low_ask: str, high_ask: str) -> WindowPrices:
    return WindowPrices(
        Quote(D(low_bid), T), Quote(D(high_bid), T), Quote(D(low_ask), T), Quote(D(high_ask), T)
    )


EURUSD_WINDOW = prices("1.13622", "1.13780", "1.13634", "1.13792")
XAUUSD_WINDOW = prices("1399.08", "1406.99", "1399.38", "1407.29")


def order(side: str, lots: str, open_time: datetime, open_price: str, **extra: object) -> TradeOrder:
    fields = {"close_time": None, "close_price": None, "close_reason": "", "profit": None, **extra}
    return TradeOrder(
        ticket="1",
        login="1",
        symbol="X",
        side=side,
        lots=D(lots),
        open_time=open_time,
        open_price=D(open_price),
        **fields,
    )


def amounts(
    o: TradeOrder, category: int, symbol: Symbol, window: WindowPrices, conversion: Conversion = SAME_USD
) -> dict[str, D]:
    result = assess(o, category, symbol=symbol, window=window, start=START, end=END, conversion=conversion)
    return {r.kind: r.amount for r in result.remedies}


def test_example_1_buy_opened_inside_closed_after_reprices_the_entry_only() -> None:
    o = order(
        "buy", "1.00", INSIDE, "1.13950", close_time=AFTER, close_price=D("1.13700"), close_reason="client"
    )
    # actual (1.13700 - 1.13950) x 100,000 = -250; adjusted (1.13700 - 1.13634) x 100,000 = 66
    assert amounts(o, 1, EURUSD, EURUSD_WINDOW) == {"best_price": D("316.00")}


def test_example_2_buy_opened_and_closed_inside_reprices_both_executions() -> None:
    closed_inside = datetime(2019, 6, 26, 15, 0, tzinfo=UTC)
    o = order("buy", "1.00", INSIDE, "1.13900", close_time=closed_inside, close_price=D("1.13650"))
    # actual (1.13650 - 1.13900) x 100,000 = -250; adjusted (1.13780 - 1.13634) x 100,000 = 146
    assert amounts(o, 1, EURUSD, EURUSD_WINDOW) == {"best_price": D("396.00")}


def test_example_3_open_sell_gets_the_entry_improvement_and_an_adjusted_open_price() -> None:
    o = order("sell", "2.00", datetime(2019, 6, 26, 16, 30, tzinfo=UTC), "1.13500")
    result = assess(o, 1, symbol=EURUSD, window=EURUSD_WINDOW, start=START, end=END, conversion=SAME_USD)
    (remedy,) = result.remedies
    # (1.13780 - 1.13500) x 2.00 x 100,000 = 560
    assert (remedy.amount, remedy.adjusted_open_price) == (D("560.00"), D("1.13780"))


def test_example_4_stop_out_offers_restore_or_the_best_exit() -> None:
    o = order(
        "buy",
        "1.00",
        BEFORE,
        "1405.00",
        close_time=datetime(2019, 6, 26, 22, 10, tzinfo=UTC),
        close_price=D("1395.20"),
        close_reason="stop_out",
        profit=D("-980.00"),
        commission=D("-7.00"),
    )
    # restore: loss 980.00 + commission 7.00; best: entry kept (before the window),
    # exit (1406.99 - 1395.20) x 100 = 1,179.00
    assert amounts(o, 2, XAUUSD, XAUUSD_WINDOW) == {"restore": D("987.00"), "best_price": D("1179.00")}


def test_example_5_jpy_profit_is_converted_to_the_usd_account_at_the_usdjpy_mid() -> None:
    window = prices("107.900", "108.400", "107.950", "108.420")
    o = order("buy", "1.00", INSIDE, "108.200", close_time=AFTER, close_price=D("108.000"))
    rate = 1 / D("107.800")
    # (108.200 - 107.950) x 100,000 = 25,000 JPY; / 107.800 = 231.9109... USD
    assert amounts(o, 1, USDJPY, window, Conversion("JPY", "USD", rate, "USDJPY", END)) == {
        "best_price": D("231.91")
    }


def test_example_6_jpy_account_rounds_to_whole_yen_half_up() -> None:
    o = order("buy", "1.00", INSIDE, "1.13950", close_time=AFTER, close_price=D("1.13700"))
    # 316 USD x 107.80 = 34,064.80 JPY -> 34,065
    assert amounts(o, 1, EURUSD, EURUSD_WINDOW, Conversion("USD", "JPY", D("107.80"))) == {
        "best_price": D("34065")
    }


def test_an_order_already_at_a_better_price_is_owed_nothing() -> None:
    o = order("buy", "1.00", INSIDE, "1.13600", close_time=AFTER, close_price=D("1.13700"))
    assert amounts(o, 1, EURUSD, EURUSD_WINDOW) == {"best_price": D("0.00")}


def test_explanations_name_the_prices_and_tick_times_used() -> None:
    o = order("buy", "1.00", INSIDE, "1.13950", close_time=AFTER, close_price=D("1.13700"))
    result = assess(o, 1, symbol=EURUSD, window=EURUSD_WINDOW, start=START, end=END, conversion=SAME_USD)
    assert "re-priced to 1.13634 (lowest ask at 2019-06-26 16:35:00 UTC)" in result.remedies[0].explanation


def test_rounding_is_half_up() -> None:
    assert round_money(D("0.125"), "USD") == D("0.13")
    assert round_money(D("2.5"), "JPY") == D("3")


prices_st = st.decimals(min_value=D("0.5"), max_value=D("2"), places=5)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[TradeOrder, int, WindowPrices]:
    bids = sorted(draw(st.lists(prices_st, min_size=2, max_size=2)))
    spread = draw(st.decimals(min_value=D("0"), max_value=D("0.001"), places=5))
    window = prices(str(bids[0]), str(bids[1]), str(bids[0] + spread), str(bids[1] + spread))
    times = [BEFORE, INSIDE, datetime(2019, 6, 26, 20, 0, tzinfo=UTC), AFTER]
    open_index = draw(st.integers(0, 2))
    open_time = times[open_index]
    closed = draw(st.booleans())
    category = draw(st.sampled_from([1, 2])) if closed else 1
    extra: dict[str, object] = {}
    if closed:
        extra = {
            "close_time": times[draw(st.integers(open_index + 1, 3))],
            "close_price": draw(prices_st),
            "close_reason": "stop_out" if category == 2 else "client",
            "profit": draw(st.decimals(min_value=D("-5000"), max_value=D("5000"), places=2)),
            "commission": draw(st.decimals(min_value=D("-50"), max_value=D("0"), places=2)),
        }
    o = order(
        draw(st.sampled_from(["buy", "sell"])),
        str(draw(st.sampled_from(["0.01", "0.10", "1.00", "3.50"]))),
        open_time,
        str(draw(prices_st)),
        **extra,
    )
    return o, category, window


@given(scenarios())
def test_compensation_is_never_negative_and_never_beyond_the_best_case_swing(
    scenario: tuple[TradeOrder, int, WindowPrices],
) -> None:
    o, category, window = scenario
    result = assess(o, category, symbol=EURUSD, window=window, start=START, end=END, conversion=SAME_USD)
    buy = o.side == "buy"
    best_entry = (window.low_ask if buy else window.high_bid).price
    best_exit = (window.high_bid if buy else window.low_ask).price
    close = o.close_price if o.close_price is not None else o.open_price
    swing = (abs(o.open_price - best_entry) + abs(close - best_exit)) * o.lots * EURUSD.contract_size
    for remedy in result.remedies:
        assert remedy.amount >= 0
        if remedy.kind == "best_price":
            assert remedy.amount <= round_money(swing, "USD") + D("0.01")


@given(
    st.lists(
        st.tuples(
            st.integers(0, 600), prices_st, st.decimals(min_value=D("0"), max_value=D("0.001"), places=5)
        ),
        min_size=1,
        max_size=40,
    ),
    st.randoms(use_true_random=False),
)
def test_window_extremes_do_not_depend_on_the_order_ticks_were_imported(
    raw: list[tuple[int, D, D]], shuffler: random.Random
) -> None:
    ticks = [(START + timedelta(minutes=m), bid, bid + spread) for m, bid, spread in raw]
    shuffled = list(ticks)
    shuffler.shuffle(shuffled)
    assert window_prices(ticks) == window_prices(shuffled)
    # Each extreme is the earliest tick at the extreme price.
    low_bid = min(ticks, key=lambda t: (t[1], t[0]))
    high_bid = min(ticks, key=lambda t: (-t[1], t[0]))
    low_ask = min(ticks, key=lambda t: (t[2], t[0]))
    high_ask = min(ticks, key=lambda t: (-t[2], t[0]))
    assert window_prices(shuffled) == WindowPrices(
        Quote(low_bid[1], low_bid[0]),
        Quote(high_bid[1], high_bid[0]),
        Quote(low_ask[2], low_ask[0]),
        Quote(high_ask[2], high_ask[0]),
    )
