"""Trade records import: CSV files into the database, idempotent, audited, row by row.

Each file's kind is recognised from its header row. A bad row is reported with its file, line
and column and skipped; good rows are kept. Rows are written in chunks, each chunk in one
transaction, so an interrupted import never leaves a half-written row, and importing the same
file again changes nothing. A row that changed since the last import is updated and the
change is recorded in ``import_audit``. Times are read in the trade server's time zone and
stored in UTC.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, and_, delete, insert, select, update
from sqlmodel import Session, SQLModel
from tqdm import tqdm

from bot.store import session_scope
from bot.tables import Account, ImportAudit, Symbol, Tick, TicketAlias, TradeOrder, WindowQuote, utcnow

CHUNK = 5000
MAX_ERRORS_SHOWN = 50


class ImportProblem(Exception):
    """A file cannot be imported at all (unreadable, unknown header); the message names it."""


@dataclass(frozen=True)
class RowError:
    file: str
    line: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: column {self.column}: {self.message}"


@dataclass
class ImportReport:
    file: str
    kind: str
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.file}: {self.kind}: {self.rows} rows, {self.inserted} new, {self.updated} changed, "
            f"{self.unchanged} unchanged, {len(self.errors)} rejected"
        )


class BadValue(ValueError):
    pass


# --- column readers -------------------------------------------------------------------------


def text(value: str) -> str:
    value = value.strip()
    if not value:
        raise BadValue("is empty")
    return value


def number(value: str) -> Decimal:
    try:
        parsed = Decimal(value.strip().replace(",", ""))
    except InvalidOperation:
        raise BadValue(f"{value!r} is not a number") from None
    if not parsed.is_finite():
        raise BadValue(f"{value!r} is not a finite number")
    return parsed


def positive(value: str) -> Decimal:
    parsed = number(value)
    if parsed <= 0:
        raise BadValue(f"{value!r} must be greater than 0")
    return parsed


def optional_number(value: str) -> Decimal | None:
    return number(value) if value.strip() else None


def zero_if_empty(value: str) -> Decimal:
    return number(value) if value.strip() else Decimal(0)


def integer(value: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise BadValue(f"{value!r} is not a whole number") from None


def ticket(value: str) -> str:
    value = value.strip()
    if not value.isdigit():
        raise BadValue(f"{value!r} is not a ticket number")
    return value


def email_address(value: str) -> str:
    value = value.strip().lower()
    if value.count("@") != 1 or not value.split("@")[1]:
        raise BadValue(f"{value!r} is not an email address")
    return value


def currency(value: str) -> str:
    value = value.strip().upper()
    if len(value) != 3 or not value.isalpha():
        raise BadValue(f"{value!r} is not a three-letter currency code")
    return value


def choice(*allowed: str) -> Callable[[str], str]:
    def read(value: str) -> str:
        value = value.strip().lower()
        if value not in allowed:
            raise BadValue(f"{value!r} is not one of {', '.join(a or '(empty)' for a in allowed)}")
        return value

    return read


def server_time(tz: tzinfo) -> Callable[[str], datetime]:
    def read(value: str) -> datetime:
        raw = value.strip()
        if len(raw) >= 10 and raw[4] == "." and raw[7] == ".":
            raw = raw[:4] + "-" + raw[5:7] + "-" + raw[8:]
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            raise BadValue(f"{value!r} is not a date and time (2019-06-26 18:58:00)") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=tz)
        return moment.astimezone(UTC)

    return read


def optional(read: Callable[[str], Any]) -> Callable[[str], Any]:
    return lambda value: read(value) if value.strip() else None


# --- record kinds ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    name: str
    table: type[SQLModel]
    key: tuple[str, ...]
    columns: dict[str, Callable[[str], Any]]


def kinds(tz: tzinfo) -> dict[str, Kind]:
    when = server_time(tz)
    return {
        "accounts": Kind(
            "accounts",
            Account,
            ("login",),
            {
                "login": ticket,
                "name": text,
                "email": email_address,
                "currency": currency,
            },
        ),
        "symbols": Kind(
            "symbols",
            Symbol,
            ("symbol",),
            {
                "symbol": lambda v: text(v).upper(),
                "contract_size": positive,
                "profit_currency": currency,
                "digits": integer,
            },
        ),
        "orders": Kind(
            "orders",
            TradeOrder,
            ("ticket",),
            {
                "ticket": ticket,
                "login": ticket,
                "symbol": lambda v: text(v).upper(),
                "type": choice("buy", "sell"),
                "lots": positive,
                "open_time": when,
                "open_price": positive,
                "close_time": optional(when),
                "close_price": optional(positive),
                "commission": zero_if_empty,
                "swap": zero_if_empty,
                "profit": optional_number,
                "close_reason": choice("client", "sl", "tp", "stop_out", ""),
            },
        ),
        "ticks": Kind(
            "ticks",
            Tick,
            ("symbol", "time"),
            {
                "symbol": lambda v: text(v).upper(),
                "time": when,
                "bid": positive,
                "ask": positive,
            },
        ),
        "mt5_deals": Kind(
            "mt5_deals",
            TradeOrder,
            ("ticket",),
            {
                "deal": ticket,
                "order": optional(ticket),
                "position": ticket,
                "login": ticket,
                "time": when,
                "symbol": lambda v: v.strip().upper(),
                "type": choice("buy", "sell", "balance", "credit"),
                "entry": choice("in", "out", "inout", "out_by", ""),
                "volume": zero_if_empty,
                "price": zero_if_empty,
                "commission": zero_if_empty,
                "swap": zero_if_empty,
                "profit": zero_if_empty,
                "reason": lambda v: v.strip().lower(),
            },
        ),
    }


def _header_name(column: str) -> str:
    name = column.strip().lower().replace(" ", "_").replace("-", "_")
    return {"position_id": "position", "positionid": "position", "direction": "entry", "side": "type"}.get(
        name, name
    )


def detect(header: list[str], tz: tzinfo) -> Kind:
    names = {_header_name(c) for c in header}
    for kind in kinds(tz).values():
        required = set(kind.columns) - ({"commission", "swap"} if kind.name == "orders" else set())
        if required <= names:
            return kind
    raise ImportProblem(
        f"header {','.join(header)!r} matches none of: accounts, symbols, orders, ticks, mt5_deals"
    )


# --- reading ----------------------------------------------------------------------------------


class _Progress(io.RawIOBase):
    """Counts the bytes the CSV reader consumes, for the progress bar."""

    def __init__(self, raw: io.BufferedReader, bar: tqdm) -> None:
        self._raw, self._bar = raw, bar

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = self._raw.readinto(buffer)
        self._bar.update(count or 0)
        return count or 0


def _decoded_lines(stream: io.BufferedReader, path: Path, report: ImportReport) -> Iterator[str]:
    """Lines decoded one at a time, so a bad byte costs its own line only (reported, read as
    blank) and line numbers stay right."""
    for number, line in enumerate(stream, start=1):
        if number == 1 and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]
        try:
            yield line.decode("utf-8")
        except UnicodeDecodeError as exc:
            report.errors.append(RowError(str(path), number, "-", f"not UTF-8 text (byte {exc.start + 1})"))
            yield "\n"


def read_rows(
    path: Path, tz: tzinfo, report: ImportReport, *, progress: bool
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line, converted row) for each good row; record each bad one in ``report``."""
    size = path.stat().st_size
    bar = tqdm(
        total=size,
        unit="B",
        unit_scale=True,
        desc=path.name,
        file=sys.stderr,
        disable=not progress or size < 5_000_000,
        leave=False,
    )
    with path.open("rb") as raw, bar:
        reader = csv.reader(_decoded_lines(io.BufferedReader(_Progress(raw, bar)), path, report))
        try:
            header = next(reader)
        except StopIteration:
            raise ImportProblem(f"{path}: the file is empty") from None
        if report.errors:
            raise ImportProblem(f"{path}: the header is not UTF-8 text")
        try:
            kind = detect(header, tz)
        except ImportProblem as exc:
            raise ImportProblem(f"{path}: {exc}") from None
        report.kind = kind.name
        names = [_header_name(c) for c in header]
        readers = kind.columns
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                report.errors.append(RowError(str(path), reader.line_num, "-", f"unreadable line: {exc}"))
                continue
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            report.rows += 1
            if len(cells) != len(names):
                report.errors.append(
                    RowError(str(path), line, "-", f"has {len(cells)} fields, the header has {len(names)}")
                )
                continue
            row: dict[str, Any] = {}
            for name, cell in zip(names, cells, strict=True):
                read = readers.get(name)
                if read is None:
                    continue
                try:
                    row[name] = read(cell)
                except BadValue as exc:
                    report.errors.append(RowError(str(path), line, name, str(exc)))
                    break
            else:
                problem = _row_problem(kind.name, row)
                if problem:
                    report.errors.append(RowError(str(path), line, problem[0], problem[1]))
                    continue
                yield line, row


def _row_problem(kind: str, row: dict[str, Any]) -> tuple[str, str] | None:
    if kind == "mt5_deals" and row["type"] in ("buy", "sell"):
        if row["volume"] <= 0:
            return "volume", f"must be greater than 0 for a {row['type']} deal"
        if row["price"] <= 0:
            return "price", f"must be greater than 0 for a {row['type']} deal"
    if kind == "ticks" and row["ask"] < row["bid"]:
        return "ask", f"ask {row['ask']} is below bid {row['bid']}"
    if kind == "mt5_deals" and row["type"] in ("buy", "sell") and not row["symbol"]:
        return "symbol", "is empty"
    if kind == "orders":
        if (row.get("close_time") is None) != (row.get("close_price") is None):
            return "close_price", "close_time and close_price must both be given or both be empty"
        if row.get("close_time") and row["close_time"] < row["open_time"]:
            return "close_time", "is before open_time"
    return None


# --- writing ----------------------------------------------------------------------------------


def _to_record(kind: str, row: dict[str, Any]) -> dict[str, Any]:
    if kind == "orders":
        record = dict(row)
        record["side"] = record.pop("type")
        record.setdefault("commission", Decimal(0))
        record.setdefault("swap", Decimal(0))
        return record
    return row


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, Decimal) and isinstance(b, Decimal):
        return a == b
    return a == b


def _jsonable(record: dict[str, Any]) -> str:
    return json.dumps({k: str(v) if v is not None else None for k, v in record.items()}, ensure_ascii=False)


def _existing(
    session: Session, kind: Kind, records: list[dict[str, Any]]
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The stored rows with the same keys as ``records``, as plain dicts."""
    table: Any = kind.table
    conditions = []
    if kind.key == ("symbol", "time"):
        times_by_symbol: dict[str, list[datetime]] = {}
        for record in records:
            times_by_symbol.setdefault(record["symbol"], []).append(record["time"])
        conditions = [
            and_(table.symbol == symbol, table.time >= min(times), table.time <= max(times))
            for symbol, times in times_by_symbol.items()
        ]
    else:
        column = getattr(table, kind.key[0])
        values = [record[kind.key[0]] for record in records]
        conditions = [column.in_(values[i : i + 900]) for i in range(0, len(values), 900)]
    found: dict[tuple[Any, ...], dict[str, Any]] = {}
    for condition in conditions:
        for stored in session.execute(select(table).where(condition)).scalars():
            row = {k: v for k, v in stored.model_dump().items() if k != "id"}
            found[tuple(row[k] for k in kind.key)] = row
    return found


def write_chunk(
    engine: Engine, kind: Kind, chunk: list[tuple[int, dict[str, Any]]], report: ImportReport
) -> None:
    """Insert new rows, update changed ones (audited), all in one transaction."""
    latest: dict[tuple[Any, ...], tuple[int, dict[str, Any]]] = {}
    for line, row in chunk:
        record = _to_record(kind.name, row)
        latest[tuple(record[k] for k in kind.key)] = (line, record)
    records = [r for _, r in latest.values()]
    report.unchanged += len(chunk) - len(latest)
    with session_scope(engine) as session:
        existing = _existing(session, kind, records)
        new: list[dict[str, Any]] = []
        changed: list[dict[str, Any]] = []
        audits: list[dict[str, Any]] = []
        for key, (line, record) in latest.items():
            before = existing.get(key)
            if before is None:
                new.append(record)
                continue
            diff = {k: v for k, v in record.items() if not _same(before.get(k), v)}
            if not diff:
                report.unchanged += 1
                continue
            changed.append({**before, **record})
            audits.append(
                {
                    "at": utcnow(),
                    "file": report.file,
                    "line": line,
                    "record": kind.name,
                    "key": "/".join(str(k) for k in key),
                    "before": _jsonable({k: before.get(k) for k in diff}),
                    "after": _jsonable(diff),
                }
            )
        if new:
            session.execute(insert(kind.table.__table__), new)  # type: ignore[attr-defined]
        for record in changed:
            table = kind.table
            condition = and_(*(getattr(table, k) == record[k] for k in kind.key))
            session.execute(update(table).where(condition).values(**record))
        if audits:
            session.execute(insert(ImportAudit.__table__), audits)  # type: ignore[attr-defined]
        if kind.name == "ticks" and (new or changed):
            symbols = {r["symbol"] for r in (*new, *changed)}
            session.execute(delete(WindowQuote).where(WindowQuote.symbol.in_(symbols)))  # type: ignore[attr-defined]
        report.inserted += len(new)
        report.updated += len(changed)


def import_file(engine: Engine, path: Path, tz: tzinfo, *, progress: bool = False) -> ImportReport:
    report = ImportReport(file=str(path), kind="?")
    try:
        rows = read_rows(path, tz, report, progress=progress)
        first = next(rows, None)
    except OSError as exc:
        raise ImportProblem(f"{path}: {exc.strerror or exc}") from None
    if first is None:
        return report
    kind = kinds(tz)[report.kind]
    if kind.name == "mt5_deals":
        _import_deals(engine, [first, *rows], report)
        return report
    chunk = [first]
    for item in rows:
        chunk.append(item)
        if len(chunk) >= CHUNK:
            write_chunk(engine, kind, chunk, report)
            chunk = []
    if chunk:
        write_chunk(engine, kind, chunk, report)
    return report


# --- MetaTrader 5 deals -----------------------------------------------------------------------

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


def _import_deals(engine: Engine, deals: list[tuple[int, dict[str, Any]]], report: ImportReport) -> None:
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
