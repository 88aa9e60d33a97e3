"""Writing converted rows: new ones inserted, changed ones updated with the change recorded in
``import_audit``, each chunk in one transaction, so importing a file twice changes nothing."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, and_, delete, insert, select, update
from sqlmodel import Session

from bot.records.columns import Kind
from bot.records.reading import ImportReport
from bot.storage.database import session_scope
from bot.storage.tables import ImportAudit, WindowQuote, utcnow

CHUNK = 5000


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
    """Insert new rows, update changed ones (audited), all in one transaction. ``read_rows``
    rejects a key seen twice in a file, so a chunk holding one twice is a bug: it raises
    ``ValueError`` rather than let one of the rows win in silence."""
    latest: dict[tuple[Any, ...], tuple[int, dict[str, Any]]] = {}
    for line, row in chunk:
        record = _to_record(kind.name, row)
        key = tuple(record[k] for k in kind.key)
        if key in latest:
            raise ValueError(f"{report.file}:{line}: the key of line {latest[key][0]} again in one chunk")
        latest[key] = (line, record)
    records = [r for _, r in latest.values()]
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
