"""Trade records import: CSV files into the database, idempotent, audited, row by row.

Each file's kind is recognised from its header row. A bad row is reported with its file, line
and column and skipped; good rows are kept. Of two rows of one file with the same key the first
is kept and the second rejected, naming the first's line. Rows are written in chunks, each
chunk in one transaction, so an interrupted import never leaves a half-written row, and
importing the same file again changes nothing. A row that changed since the last import is
updated and the change is recorded in ``import_audit``. Times are read in the trade server's
time zone and stored in UTC.
"""

from __future__ import annotations

from datetime import tzinfo
from pathlib import Path

from sqlalchemy import Engine

from bot.records import mt5
from bot.records.columns import ImportProblem, kinds
from bot.records.reading import ImportReport, read_rows
from bot.records.writer import CHUNK, write_chunk

MAX_ERRORS_SHOWN = 50


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
        mt5.import_deals(engine, [first, *rows], report)
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
