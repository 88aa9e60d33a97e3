from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

from bot.assess import QuoteRange, assess
from bot.tables import Symbol, TradeOrder

EURUSD = Symbol(symbol="EURUSD", contract_size=D("100000"), profit_currency="USD", digits=5)
XAUUSD = Symbol(symbol="XAUUSD", contract_size=D("100"), profit_currency="USD", digits=2)
WHEN = datetime(2019, 6, 26, 12, 0, tzinfo=UTC)


def order(side: str, symbol: str, lots: str, open_price: str, **extra: object) -> TradeOrder:
    return TradeOrder(
        ticket="1",
        login="1",
        symbol=symbol,
        side=side,
        lots=D(lots),
        open_time=WHEN,
        open_price=D(open_price),
        **extra,
    )


def test_buy_is_repriced_at_the_lowest_ask_of_the_outage() -> None:
    quotes = QuoteRange(
        low_bid=D("1.13622"), high_bid=D("1.13780"), low_ask=D("1.13634"), high_ask=D("1.13792")
    )
    result = assess(order("buy", "EURUSD", "1.00", "1.13950"), 1, symbol=EURUSD, quotes=quotes)
    (remedy,) = result.remedies
    # (1.13950 - 1.13634) x 1.00 lot x 100,000 = 316.00
    assert (remedy.kind, remedy.price, remedy.amount) == ("best_price", D("1.13634"), D("316.00"))


def test_sell_is_repriced_at_the_highest_bid_of_the_outage() -> None:
    quotes = QuoteRange(
        low_bid=D("1399.08"), high_bid=D("1406.99"), low_ask=D("1399.38"), high_ask=D("1407.29")
    )
    (remedy,) = assess(order("sell", "XAUUSD", "0.50", "1398.10"), 1, symbol=XAUUSD, quotes=quotes).remedies
    # (1406.99 - 1398.10) x 0.50 lot x 100 = 444.50
    assert remedy.amount == D("444.50")


def test_an_order_already_at_a_better_price_is_owed_nothing() -> None:
    quotes = QuoteRange(
        low_bid=D("1.13622"), high_bid=D("1.13780"), low_ask=D("1.13634"), high_ask=D("1.13792")
    )
    (remedy,) = assess(order("buy", "EURUSD", "1.00", "1.13600"), 1, symbol=EURUSD, quotes=quotes).remedies
    assert remedy.amount == D("0.00")


def test_stopped_out_order_offers_restore_or_the_best_close() -> None:
    quotes = QuoteRange(
        low_bid=D("1399.08"), high_bid=D("1406.99"), low_ask=D("1399.38"), high_ask=D("1407.29")
    )
    stopped = order(
        "buy",
        "XAUUSD",
        "1.00",
        "1405.00",
        close_time=WHEN,
        close_price=D("1395.20"),
        close_reason="stop_out",
        profit=D("-980.00"),
    )
    result = assess(stopped, 2, symbol=XAUUSD, quotes=quotes)
    amounts = {r.kind: r.amount for r in result.remedies}
    # restore: the realised loss back; best close: (1406.99 - 1395.20) x 1.00 x 100 = 1,179.00
    assert amounts == {"restore": D("980.00"), "best_price": D("1179.00")}
    assert all(isinstance(r.amount, D) for r in result.remedies)
