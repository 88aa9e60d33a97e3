"""Reading a trade-records file row by row: every good row converted, every bad one reported
with its file, line and column (a key already seen in the file, a line too long to be CSV
among them), and a progress bar on a terminal."""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from tqdm import tqdm

from bot.records.columns import BadValue, ImportProblem, Kind, detect, header_name

MAX_LINE = 1 << 20
"""The most bytes a line may hold, its newline aside: a row is a few hundred, so a longer line
means the file is not CSV, and reading it whole could take all the memory there is."""


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


class FirstLines:
    """The line of each key kept so far in one file, so a second row with that key is rejected
    naming the first, however many chunks apart. Every key of the file is held until its end,
    about 120 bytes a key (some 120 MB for a million rows): the price of catching a duplicate
    that a chunk-sized memory would miss. Keys are nested under their leading columns (the
    symbol of a tick) so those are held once, not once a row."""

    def __init__(self, kind: Kind, tz: tzinfo) -> None:
        self.columns = kind.file_key
        self._tz = tz
        self._lines: dict[tuple[Any, ...], dict[Any, int]] = {}

    def first_line(self, row: dict[str, Any], line: int) -> int | None:
        """None for a new key (now remembered at ``line``), else the line that holds it."""
        *leading, last = (row[c] for c in self.columns)
        first = self._lines.setdefault(tuple(leading), {}).setdefault(last, line)
        return None if first == line else first

    def describe(self, row: dict[str, Any]) -> str:
        return ", ".join(f"{c} {self._shown(row[c])}" for c in self.columns)

    def _shown(self, value: Any) -> str:
        return value.astimezone(self._tz).isoformat(" ") if isinstance(value, datetime) else str(value)


def _skip_rest_of_line(stream: io.BufferedReader) -> None:
    """Read on to the next newline in small pieces, so skipping a line holds little more of it."""
    while (piece := stream.readline(1 << 16)) and not piece.endswith(b"\n"):
        pass


def _decoded_lines(stream: io.BufferedReader, path: Path, report: ImportReport) -> Iterator[str]:
    """Lines decoded one at a time, so a bad byte costs its own line only (reported, read as
    blank) and line numbers stay right. No more than ``MAX_LINE`` bytes of a line are read into
    memory: a longer first line is an ``ImportProblem`` at once (a file with no newline in its
    first MiB is not CSV, and nothing more of it is read); a longer later line is a row error,
    read through to its newline in small pieces and dropped, and the rows after it are kept."""
    number = 0
    while line := stream.readline(MAX_LINE + 1):
        number += 1
        if len(line) > MAX_LINE and not line.endswith(b"\n"):
            problem = f"line longer than {MAX_LINE} bytes; is this a CSV file?"
            if number == 1:
                raise ImportProblem(f"{path}:1: {problem}")
            report.errors.append(RowError(str(path), number, "-", problem))
            _skip_rest_of_line(stream)
            yield "\n"
            continue
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
    """Yield (line, converted row) for each good row; record each bad one in ``report``. A row
    with the key of an earlier kept row of the same file is bad: the earlier one stays."""
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
        seen = FirstLines(kind, tz)
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
                first = seen.first_line(row, line)
                if first is not None:
                    message = f"duplicate of line {first} ({seen.describe(row)})"
                    report.errors.append(RowError(str(path), line, ",".join(seen.columns), message))
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
