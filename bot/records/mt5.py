"""MetaTrader 5 deals exports: positions rebuilt from their deals, and the deal and order tickets
that name each position kept as aliases, so a client may quote any of them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, insert, select

from bot.records.columns import kinds
from bot.records.reading import ImportReport
from bot.records.writer import CHUNK, write_chunk
from bot.storage.database import session_scope
from bot.storage.tables import TicketAlias

_STOP_OUT = {"so", "stop_out", "stopout", "deal_reason_so", "stop out"}


def positions_from_deals(
    deals: Iterable[tuple[int, dict[str, Any]]],
) -> tuple[list[tuple[int, dict[str, Any]]], list[dict[str, Any]]]:
    """Rebuild positions (as order rows) from MT5 deals, plus the deal and order tickets that name them."""
    grouped: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    aliases: list[dict[str, Any]] = []
    for line, deal in deals:
        if deal["type"] in ("balance", "credit"):
            continue
        grouped.setdefault(deal["position"], []).append((line, deal))
    positions: list[tuple[int, dict[str, Any]]] = []
    for position, items in grouped.items():
        items.sort(key=lambda item: (item[1]["time"], item[1]["deal"]))
        ins = [d for _, d in items if d["entry"] in ("in", "inout")]
        outs = [d for _, d in items if d["entry"] in ("out", "out_by", "inout")]
        if not ins:
            continue
        lots = sum((d["volume"] for d in ins), Decimal(0))
        open_price = sum((d["price"] * d["volume"] for d in ins), Decimal(0)) / lots
        closed_volume = sum((d["volume"] for d in outs), Decimal(0))
        row: dict[str, Any] = {
            "ticket": position,
            "login": ins[0]["login"],
            "symbol": ins[0]["symbol"],
            "type": ins[0]["type"],
            "lots": lots,
            "open_time": ins[0]["time"],
            "open_price": open_price,
            "close_time": None,
            "close_price": None,
            "close_reason": "",
            "commission": sum((d["commission"] for _, d in items), Decimal(0)),
            "swap": sum((d["swap"] for _, d in items), Decimal(0)),
            "profit": sum((d["profit"] for d in outs), Decimal(0)) if outs else None,
        }
        if outs and closed_volume >= lots:
            row["close_time"] = outs[-1]["time"]
            row["close_price"] = sum((d["price"] * d["volume"] for d in outs), Decimal(0)) / closed_volume
            reasons = {d["reason"] for d in outs}
            row["close_reason"] = (
                "stop_out"
                if reasons & _STOP_OUT
                else "sl"
                if "sl" in reasons
                else "tp"
                if "tp" in reasons
                else "client"
            )
        positions.append((items[0][0], row))
        for _, d in items:
            aliases.append({"alias": d["deal"], "kind": "deal", "login": d["login"], "ticket": position})
            if d.get("order"):
                aliases.append(
                    {"alias": d["order"], "kind": "order", "login": d["login"], "ticket": position}
                )
    return positions, aliases


def import_deals(engine: Engine, deals: list[tuple[int, dict[str, Any]]], report: ImportReport) -> None:
    positions, aliases = positions_from_deals(deals)
    kind = kinds(UTC)["orders"]
    for start in range(0, len(positions), CHUNK):
        write_chunk(engine, kind, positions[start : start + CHUNK], report)
    unique = {(a["alias"], a["kind"]): a for a in aliases}
    with session_scope(engine) as session:
        stored = {tuple(row) for row in session.execute(select(TicketAlias.alias, TicketAlias.kind))}
        fresh = [a for key, a in unique.items() if key not in stored]
        if fresh:
            session.execute(insert(TicketAlias.__table__), fresh)  # type: ignore[attr-defined]
