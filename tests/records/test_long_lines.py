from __future__ import annotations

import time
import tracemalloc
from pathlib import Path
from types import TracebackType

import pytest
from sqlalchemy import Engine

from bot.config import parse_timezone
from bot.records.importer import ImportProblem, import_file
from bot.records.reading import MAX_LINE

GMT3 = parse_timezone("+03:00")
HEADER = b"login,name,email,currency\n"
TOO_LONG = f"line longer than {MAX_LINE} bytes; is this a CSV file?"


class PeakMemory:
    """The most memory Python held inside the block, counting only what the block allocated."""

    def __enter__(self) -> PeakMemory:
        self._already = tracemalloc.is_tracing()
        if self._already:
            tracemalloc.reset_peak()
        else:
            tracemalloc.start()
        self._base = tracemalloc.get_traced_memory()[0]
        self.started = time.monotonic()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.bytes = tracemalloc.get_traced_memory()[1] - self._base
        self.seconds = time.monotonic() - self.started
        if not self._already:
            tracemalloc.stop()


def test_a_file_without_newlines_fails_at_its_first_line_holding_a_bounded_amount_of_memory(
    empty_engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(b"\x00\x7fPK" * (4 * MAX_LINE))

    with PeakMemory() as memory, pytest.raises(ImportProblem) as raised:
        import_file(empty_engine, path, GMT3)

    assert str(raised.value) == f"{path}:1: {TOO_LONG}"
    assert memory.bytes < 3 * MAX_LINE, f"held {memory.bytes} bytes of a {path.stat().st_size}-byte file"
    assert memory.seconds < 2


def test_an_over_long_row_is_rejected_and_the_rows_after_it_are_kept(
    empty_engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "accounts.csv"
    path.write_bytes(
        HEADER
        + b"90000001,Mei Lin,mei.lin@example.com,USD\n"
        + b"9" * (8 * MAX_LINE)
        + b"\n90000002,Tanaka Ken,ken.tanaka@example.jp,JPY\n"
    )

    with PeakMemory() as memory:
        report = import_file(empty_engine, path, GMT3)

    assert [str(e) for e in report.errors] == [f"{path}:3: column -: {TOO_LONG}"]
    assert report.inserted == 2
    assert memory.bytes < 3 * MAX_LINE, f"held {memory.bytes} bytes of a {path.stat().st_size}-byte file"
    assert memory.seconds < 2


def test_a_line_of_exactly_the_limit_is_read_and_one_byte_more_is_not(
    empty_engine: Engine, tmp_path: Path
) -> None:
    fields = b"a," * (MAX_LINE // 2)
    assert len(fields) == MAX_LINE
    path = tmp_path / "accounts.csv"
    path.write_bytes(HEADER + fields + b"\n" + fields + b"a\n" + b"90000001,Mei Lin,mei@example.com,USD")
    report = import_file(empty_engine, path, GMT3)

    assert [str(e) for e in report.errors] == [
        f"{path}:2: column -: has {MAX_LINE // 2 + 1} fields, the header has 4",
        f"{path}:3: column -: {TOO_LONG}",
    ]
    assert report.inserted == 1
