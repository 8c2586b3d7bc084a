"""Bulk screening: ``screen(path).collect()`` over generated claim lines, and parsing CPB 0198.

The claim lines come from ``compare.py``'s generator (cached by size and seed under
``benchmarks/.data/``): long layout, dates before 2015-10-01, about 0.5% of lines with
97545/97546.  Each screening benchmark is paired with reading the same parquet and nothing
else (the floor), and records ``lines_per_s`` in ``extra_info``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import polars as pl
import pytest

from codeindex.data import data_path
from codeindex.policy import parse_cpb
from codeindex.screen import screen

SMALL = 100_000


def _load_compare() -> ModuleType:
    """``benchmarks/compare.py`` as a module (benchmarks/ is not a package)."""
    name = "codeindex_bench_compare"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("compare.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


compare = _load_compare()


def lines_per_s(benchmark, lines: int) -> None:  # type: ignore[no-untyped-def]
    benchmark.extra_info["lines"] = lines
    stats = getattr(benchmark, "stats", None)
    if stats is not None and getattr(stats, "stats", None) is not None:
        benchmark.extra_info["lines_per_s"] = lines / stats.stats.mean


@pytest.fixture(scope="session")
def claims_small() -> Path:
    return compare.claims_path(SMALL)


@pytest.fixture(scope="session")
def claims_rows(rows: int) -> Path:
    return compare.claims_path(rows)


def _screen(path: Path) -> pl.DataFrame:
    return screen(path, "0198").collect()


def _check(out: pl.DataFrame, lines: int) -> None:
    assert out.height == lines
    assert set(out["determination"].unique()) <= {"not_covered", "not_applicable"}
    assert out["policy_version"].drop_nulls().unique().to_list() in ([], ["icd9"])


# --- screening 100,000 lines ----------------------------------------------------------------------

@pytest.mark.benchmark(group="screen-100k")
def test_screen_100k(benchmark, claims_small: Path) -> None:  # type: ignore[no-untyped-def]
    out = benchmark(_screen, claims_small)
    _check(out, SMALL)
    lines_per_s(benchmark, SMALL)


@pytest.mark.benchmark(group="screen-100k")
def test_scan_100k(benchmark, claims_small: Path) -> None:  # type: ignore[no-untyped-def]
    out = benchmark(pl.read_parquet, claims_small)
    assert out.height == SMALL
    lines_per_s(benchmark, SMALL)


# --- screening --rows lines (default 1,000,000) ---------------------------------------------------

@pytest.mark.benchmark(group="screen-rows")
def test_screen_rows(benchmark, claims_rows: Path, rows: int) -> None:  # type: ignore[no-untyped-def]
    out = benchmark(_screen, claims_rows)
    _check(out, rows)
    lines_per_s(benchmark, rows)


@pytest.mark.benchmark(group="screen-rows")
def test_scan_rows(benchmark, claims_rows: Path, rows: int) -> None:  # type: ignore[no-untyped-def]
    out = benchmark(pl.read_parquet, claims_rows)
    assert out.height == rows
    lines_per_s(benchmark, rows)


# --- parsing the bulletin -------------------------------------------------------------------------

@pytest.mark.benchmark(group="policy")
def test_parse_cpb_0198(benchmark) -> None:  # type: ignore[no-untyped-def]
    text = data_path("policies", "0198.txt").read_text(encoding="utf-8")
    policy = benchmark(parse_cpb, text)
    assert [v.era for v in policy.versions] == ["icd9", "icd10"]
