"""Row ids taken before the rows are written, so that a batch of claims can name its claims and
replies (a reference, a history line) without a round trip per row, and the session writes each
table's new rows in one statement: given their ids, the ORM inserts many rows at once, where
for ids the database makes it needs one statement per row on SQLite.

PostgreSQL hands them out from the table's own sequence, as an insert would. SQLite has no
sequence: the next ids are the table's largest plus one, read after the transaction has taken
the database's write lock (so no other writer can take them meanwhile).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Table, event, func, insert, select, text
from sqlmodel import Session, SQLModel

from bot.storage.tables import Claim, ClaimEvent, ClaimOrder, InboundMessage, Reply

KEY = "claimsbot.ids"
# The tables a batch of messages adds rows to, by name, and about how many rows a message
# adds to each at most (its orders, its claim's history, its letters): ids are taken from a
# sequence that many at a time, so a batch asks once per table and a claim's reference
# numbers barely skip.
TABLES = {m.__tablename__: m for m in (InboundMessage, Claim, ClaimOrder, ClaimEvent, Reply)}  # type: ignore[attr-defined]
_EVENTS: Table = ClaimEvent.__table__  # type: ignore[attr-defined]
# Each table's columns by key, for the rows of ``add_row`` (SQLAlchemy lists them anew each time).
_COLUMNS: dict[Table, tuple[tuple[str, Column[Any]], ...]] = {}
PER_MESSAGE = {"inboundmessage": 1, "claim": 1, "claimorder": 3, "claimevent": 6, "reply": 2}


def of(session: Session) -> Ids | None:
    """The ids taken ahead for this session's transaction, if a batch is being stored in it."""
    return session.info.get(KEY)


class Ids:
    """Kept in ``session.info`` until ``close``; every new row of ``TABLES`` the session
    flushes without an id is given the next one."""

    def __init__(self, session: Session, *, messages: int = 100) -> None:
        self._session = session
        self._messages = max(1, messages)
        self._sqlite = session.get_bind().dialect.name == "sqlite"
        self._taken: dict[str, list[int]] = {}
        self._next: dict[str, int] = {}
        if self._sqlite:
            # A write that changes nothing: pysqlite begins the transaction and SQLite takes
            # the write lock, held to the commit, before any largest id is read.
            session.connection().execute(text("UPDATE claim SET id = id WHERE 1 = 0"))
        # New rows no later step changes (``add_row``), by table, written after the rows they
        # belong to.
        self._rows: dict[Table, list[dict[str, Any]]] = {}
        session.info[KEY] = self
        event.listen(session, "before_flush", self._number)
        event.listen(session, "after_flush", self._write_rows)

    def next(self, model: type[SQLModel]) -> int:
        table = model.__tablename__  # type: ignore[attr-defined]
        if self._sqlite:
            taken = self._next.get(table)
            if taken is None:
                column = model.__table__.c.id  # type: ignore[attr-defined]
                taken = int(self._session.connection().execute(select(func.max(column))).scalar() or 0) + 1
            self._next[table] = taken + 1
            return taken
        waiting = self._taken.setdefault(table, [])
        if not waiting:
            rows = self._session.connection().execute(
                text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"),
                {"table": table, "n": self._messages * PER_MESSAGE[table]},
            )
            waiting.extend(sorted((int(r[0]) for r in rows), reverse=True))
        return waiting.pop()

    def add_event(self, values: dict[str, Any]) -> None:
        """A history line, inserted with the others in one statement by the next flush, after
        the claim rows it names: about four a message, each of which the unit of work would
        otherwise track as an object. Nothing a batch does reads its own history."""
        self._rows.setdefault(_EVENTS, []).append({**values, "id": self.next(ClaimEvent)})

    def add_row(self, row: SQLModel) -> None:
        """A new row nothing later in the batch changes (a claim's orders and accounts), not
        added to the session: inserted with the others of its table in one statement by the
        next flush, after the claim it belongs to, which any query of the batch sets off first.
        The unit of work tracking it cost about 30 µs a row."""
        table: Table = row.__table__  # type: ignore[attr-defined]
        if "id" in table.c and row.id is None:  # type: ignore[attr-defined]
            row.id = self.next(type(row))  # type: ignore[attr-defined]
        state = row.__dict__
        columns = _COLUMNS.get(table)
        if columns is None:
            columns = _COLUMNS[table] = tuple((c.key, c) for c in table.columns)
        self._rows.setdefault(table, []).append(
            {key: state[key] if key in state else _unset(table, column) for key, column in columns}
        )

    def finish(self) -> None:
        """Write what the last flush left (a batch whose last writes were rows of ``add_row``)."""
        self._write_rows(self._session)

    def close(self) -> None:
        self._session.info.pop(KEY, None)
        event.remove(self._session, "before_flush", self._number)
        event.remove(self._session, "after_flush", self._write_rows)

    def _write_rows(self, session: Session, *rest: object) -> None:
        waiting, self._rows = self._rows, {}
        for table, rows in waiting.items():
            session.connection().execute(insert(table), rows)

    def _number(self, session: Session, context: Any, instances: Any) -> None:
        for row in session.new:
            model = TABLES.get(getattr(row, "__tablename__", ""))
            if model is not None and row.id is None:
                row.id = self.next(model)


def _unset(table: Table, column: Column[Any]) -> None:
    """What the unit of work would have written for a column the row left unset: NULL, if that is
    what the column holds without a value (one statement for all rows needs every column)."""
    if column.nullable and column.default is None and column.server_default is None:
        return None
    raise ValueError(f"{table.name}.{column.key} needs a value")
