"""The benchmarks run end to end on a small size (their figures are read from README.md, not here)."""

from __future__ import annotations

import re
import subprocess
import sys

from tests import ROOT


def test_compensation_benchmark_agrees_with_its_reference_on_a_small_book() -> None:
    result = subprocess.run(
        [sys.executable, "bench/compensation.py", "--orders", "3000", "--ticks", "20000", "--claims", "300"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    totals = next(line for line in result.stdout.splitlines() if line.startswith("totals:"))
    counts = re.findall(r"over ([\d,]+) orders", totals)
    difference = float(re.search(r"difference ([\d,.]+)", totals).group(1).replace(",", ""))  # type: ignore[union-attr]
    assert counts[0] == counts[1] and int(counts[0].replace(",", "")) > 100, totals
    assert difference <= 0.01 * int(counts[0].replace(",", "")), totals  # at most a cent per order
    assert "ratio ours(first run)/reference:" in result.stdout and "ours(warm)/reference:" in result.stdout


def test_pipeline_benchmark_runs_on_a_small_mailbox() -> None:
    result = subprocess.run(
        [sys.executable, "bench/pipeline.py", "40"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert "messages: 40" in result.stdout and "throughput:" in result.stdout


def test_ingest_benchmark_runs_on_a_small_dovecot_mailbox() -> None:
    from tests.conftest import _require
    from tests.servers import dovecot

    _require(dovecot.available(), "Dovecot (dovecot-imapd)")
    result = subprocess.run(
        [
            sys.executable,
            "bench/ingest.py",
            "--messages",
            "60",
            "--orders",
            "2000",
            "--seen",
            "300",
            "--big-mb",
            "2",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "cycle: 60 fetched, 0 already stored, outcomes: claim 60" in result.stdout, result.stdout
    assert re.search(r"ratio \(b\)/\(a\): \d", result.stdout)
    assert re.search(r"mean of [\d,]+ before the run and [1-9][\d,]* after it", result.stdout), result.stdout
    assert re.search(r"empty poll, 100 messages seen: [\d.]+ ms; 300 seen", result.stdout)


def test_hostile_benchmark_prints_each_size_and_the_ratio() -> None:
    result = subprocess.run(
        [sys.executable, "bench/hostile.py"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.count("parse ") == 7 and "ratio seconds per byte" in out
    assert out.count("read and extracted") == 7, out


def test_web_benchmark_times_every_view_on_a_small_database() -> None:
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "bench/web.py", "--claims", "300", "--rounds", "2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("claim page") >= 1 and "SQLite:" in result.stdout
    assert result.stdout.count(" ms ") >= 2 * 10, result.stdout  # median and p95 of ten views
