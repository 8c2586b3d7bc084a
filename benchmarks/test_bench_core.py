"""Core costs: parsing a code, looking it up in an index, building an index.

Each lookup benchmark is paired with a bare ``IntervalTree.at(key)`` over the same tree and
the same precomputed keys, so the overhead of ``CodeIndex.lookup`` (hits, match kinds,
ordering) shows as a ratio.  Batched benchmarks record ``per_op_us`` in ``extra_info``.
"""

from __future__ import annotations

import random

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from codeindex import Code, CodeIndex, CodeRange, code_set, parse_code, parse_range
from codeindex.systems import SYSTEMS

CPB_0198 = ["800.00-999.9", "V10.00-V13.9", "V15.1-V15.6", "V57.22", "V57.89"]
BATCH = 1000
MIX = [
    ("icd9dx", "800.00"), ("icd9dx", "80000"), ("icd9dx", "V57.22"), ("icd9dx", "V5722"),
    ("icd9dx", "E880.9"), ("icd9dx", "410"), ("icd9dx", "001.0"), ("icd9dx", " v15.59 "),
    ("icd9pcs", "81.08"), ("icd9pcs", "8108"),
    ("hcpcs", "97545"), ("hcpcs", "0016T"), ("hcpcs", "A4206"), ("hcpcs", "s9117"),
    ("icd10cm", "S72.001A"), ("icd10cm", "S72001A"), ("icd10cm", "s00.00x+"), ("icd10cm", "I10"),
    ("icd10cm", "E11.9"), ("icd10cm", "T88.9XXA"),
]


def per_op(benchmark: BenchmarkFixture, ops: int) -> None:
    benchmark.extra_info["ops_per_call"] = ops
    stats = getattr(benchmark, "stats", None)
    if stats is not None and getattr(stats, "stats", None) is not None:
        benchmark.extra_info["per_op_us"] = stats.stats.mean / ops * 1e6


def random_ranges(n: int, seed: int = 0) -> list[CodeRange]:
    """``n`` non-overlapping numeric icd9dx ranges between full-length codes, deterministic."""
    rng = random.Random(seed)
    ends = sorted(rng.sample(range(100, 100_000), 2 * n))
    return [parse_range(f"{ends[i]:05d} - {ends[i + 1]:05d}", "icd9dx") for i in range(0, 2 * n, 2)]


def random_codes(n: int, seed: int = 1) -> list[Code]:
    rng = random.Random(seed)
    return [parse_code(f"{rng.randrange(100, 100_000):05d}", "icd9dx") for _ in range(n)]


@pytest.fixture(scope="module")
def cpb_index() -> CodeIndex:
    index = CodeIndex()
    for i, text in enumerate(CPB_0198):
        index.add(parse_range(text, "icd9dx"), payload=i)
    return index


@pytest.fixture(scope="module")
def cpb_codes() -> list[Code]:
    """Full-length billable codes (points), about one in five inside CPB 0198."""
    rng = random.Random(2)
    points = [c for c in code_set("icd9dx").codes if c.is_full_length]
    return rng.sample(points, BATCH)


@pytest.fixture(scope="module")
def ranges_10k() -> list[CodeRange]:
    return random_ranges(10_000)


@pytest.fixture(scope="module")
def index_10k(ranges_10k: list[CodeRange]) -> CodeIndex:
    return CodeIndex(ranges_10k)


# --- parsing --------------------------------------------------------------------------------------

@pytest.mark.benchmark(group="parse")
def test_parse_uncached(benchmark: BenchmarkFixture) -> None:
    calls = [(SYSTEMS[system].parse, text) for system, text in MIX]

    def parse_all() -> None:
        for parse, text in calls:
            parse(text)

    benchmark(parse_all)
    per_op(benchmark, len(calls))


@pytest.mark.benchmark(group="parse")
def test_parse_cached(benchmark: BenchmarkFixture) -> None:
    for system, text in MIX:
        parse_code(text, system)

    def parse_all() -> None:
        for system, text in MIX:
            parse_code(text, system)

    benchmark(parse_all)
    per_op(benchmark, len(MIX))


# --- lookup in CPB 0198's five ranges -------------------------------------------------------------

@pytest.mark.benchmark(group="lookup-cpb0198")
def test_lookup_cpb0198(benchmark: BenchmarkFixture, cpb_index: CodeIndex, cpb_codes: list[Code]) -> None:
    lookup = cpb_index.lookup

    def run() -> int:
        return sum(len(lookup(code)) for code in cpb_codes)

    hits = benchmark(run)
    assert 0 < hits < BATCH
    per_op(benchmark, BATCH)


@pytest.mark.benchmark(group="lookup-cpb0198")
def test_lookup_text_cpb0198(
    benchmark: BenchmarkFixture, cpb_index: CodeIndex, cpb_codes: list[Code]
) -> None:
    texts = [c.decimal for c in cpb_codes]
    lookup = cpb_index.lookup

    def run() -> int:
        return sum(len(lookup(text, "icd9dx")) for text in texts)

    hits = benchmark(run)
    assert 0 < hits < BATCH
    per_op(benchmark, BATCH)


@pytest.mark.benchmark(group="lookup-cpb0198")
def test_tree_at_cpb0198(benchmark: BenchmarkFixture, cpb_index: CodeIndex, cpb_codes: list[Code]) -> None:
    at = cpb_index.trees["icd9dx"].at
    keys = [c.lo for c in cpb_codes]

    def run() -> int:
        return sum(len(at(k)) for k in keys)

    hits = benchmark(run)
    assert hits == sum(len(cpb_index.lookup(c)) for c in cpb_codes)
    per_op(benchmark, BATCH)


# --- lookup in 10,000 random ranges ---------------------------------------------------------------

@pytest.mark.benchmark(group="lookup-10k")
def test_lookup_10k(benchmark: BenchmarkFixture, index_10k: CodeIndex) -> None:
    codes = random_codes(BATCH)
    lookup = index_10k.lookup

    def run() -> int:
        return sum(len(lookup(code)) for code in codes)

    hits = benchmark(run)
    assert 0 < hits < BATCH
    per_op(benchmark, BATCH)


@pytest.mark.benchmark(group="lookup-10k")
def test_tree_at_10k(benchmark: BenchmarkFixture, index_10k: CodeIndex) -> None:
    codes = random_codes(BATCH)
    at = index_10k.trees["icd9dx"].at
    keys = [c.lo for c in codes]

    def run() -> int:
        return sum(len(at(k)) for k in keys)

    hits = benchmark(run)
    assert hits == sum(len(index_10k.lookup(c)) for c in codes)
    per_op(benchmark, BATCH)


# --- building -------------------------------------------------------------------------------------

@pytest.mark.benchmark(group="build")
def test_build_index_10k(benchmark: BenchmarkFixture, ranges_10k: list[CodeRange]) -> None:
    index = benchmark(CodeIndex, ranges_10k)
    assert len(index) == 10_000
    per_op(benchmark, len(ranges_10k))
