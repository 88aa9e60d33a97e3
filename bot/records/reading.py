"""Reading a trade-records file row by row: every good row converted, every bad one reported
with its file, line and column, and a progress bar on a terminal."""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path
from typing import Any

from tqdm import tqdm

from bot.records.columns import BadValue, ImportProblem, detect, header_name


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
        names = [header_name(c) for c in header]
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
