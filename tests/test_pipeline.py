"""The library in a data pipeline (issue 16): deferred screens, Arrow inputs, hive partitions and URIs,
the polars expression namespace held to the scalar API over whole code sets, the typed package and the
command line's help."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from polars.io.plugins import register_io_source
from polars.testing import assert_frame_equal

import codeindex
from codeindex.code import Code
from codeindex.codesets import code_set
from codeindex.errors import InvalidCodeError
from codeindex.ranges import parse_range
from codeindex.screen import screen
from codeindex.systems import parse_code

CLAIMS = pl.DataFrame({
    "claim_id": ["1", "1", "2", "3", "4"],
    "procedure_code": ["97545", "97546", "97546", "99213", "97545"],
    "dx1": ["800.00", "V15.1", "812.01", "401.9", "S72.001A"],
    "dx2": [None, "V15", None, None, None],
    "service_date": ["2012-01-05", "2012-01-05", "2013-03-01", "2012-01-05", "2016-01-05"],
})


@pytest.fixture(scope="module")
def expected() -> pl.DataFrame:
    return screen(CLAIMS).collect()


# ---- deferred: screen() reads no line until the result is collected -----------------------------------------

def counting_source(frame: pl.DataFrame, reads: list[int]) -> pl.LazyFrame:
    """A LazyFrame that counts how often its lines are read."""
    def io_source(with_columns: list[str] | None, predicate: pl.Expr | None, n_rows: int | None,
                  batch_size: int | None) -> Iterator[pl.DataFrame]:
        reads.append(1)
        yield frame

    return register_io_source(io_source, schema=frame.schema)


def test_screen_reads_nothing_until_collected(expected: pl.DataFrame) -> None:
    reads: list[int] = []
    lines = screen(counting_source(CLAIMS, reads))
    assert reads == []  # columns checked, nothing read
    assert lines.collect_schema().names() == expected.columns
    filtered = lines.filter(determination="not_covered").select("claim_id", "reason").head(2)
    assert reads == []
    assert_frame_equal(filtered.collect(), expected.filter(determination="not_covered")
                       .select("claim_id", "reason").head(2))
    assert reads == [1]
    assert lines.select(pl.len()).collect().item() == CLAIMS.height  # a count needs no screen
    assert_frame_equal(lines.collect(), expected)


def test_a_file_is_read_when_collected(tmp_path: Path, expected: pl.DataFrame) -> None:
    path = tmp_path / "claims.parquet"
    CLAIMS.write_parquet(path)
    lines = screen(path)
    assert_frame_equal(lines.collect(), expected)
    path.unlink()  # gone after the call: collecting the result reads it, and says it cannot
    with pytest.raises(codeindex.InputError, match=f"^{path}: no such file or directory"):
        lines.collect()


def test_errors_of_columns_are_raised_at_the_call() -> None:
    with pytest.raises(codeindex.InputError, match="no column 'procedure_code'"):
        screen(CLAIMS.drop("procedure_code"))


def test_streaming_sink_of_a_deferred_screen(tmp_path: Path, expected: pl.DataFrame) -> None:
    path = tmp_path / "claims.parquet"
    CLAIMS.write_parquet(path)
    screen(path, streaming=True).sink_parquet(tmp_path / "out.parquet")
    assert_frame_equal(pl.read_parquet(tmp_path / "out.parquet"), expected)


# ---- inputs: Arrow PyCapsule objects, hive partitions, URIs --------------------------------------------------

@pytest.mark.parametrize("kind", ["pyarrow Table", "pyarrow RecordBatchReader", "pandas DataFrame",
                                  "DuckDB relation"])
def test_arrow_inputs(kind: str, expected: pl.DataFrame) -> None:
    table = CLAIMS.to_arrow()
    source: object = {
        "pyarrow Table": lambda: table,
        "pyarrow RecordBatchReader": lambda: pa.RecordBatchReader.from_batches(table.schema, table.to_batches()),
        "pandas DataFrame": lambda: pd.DataFrame(CLAIMS.to_dict(as_series=False)),
        "DuckDB relation": lambda: duckdb.from_arrow(table),
    }[kind]()
    assert_frame_equal(screen(source).collect(), expected)  # type: ignore[arg-type]


def test_anything_else_is_a_type_error_naming_what_is_accepted() -> None:
    with pytest.raises(TypeError, match=r"cannot screen a dict: expected a polars LazyFrame .* pyarrow Table"):
        screen({"claim_id": ["1"]})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="cannot screen a list"):
        screen([1, 2])  # type: ignore[list-item]


def test_hive_partitions_become_columns_and_hidden_folders_are_skipped(tmp_path: Path) -> None:
    for year, part in (("2012", CLAIMS.head(3)), ("2013", CLAIMS.tail(2))):
        (tmp_path / "claims" / f"year={year}").mkdir(parents=True)
        part.write_parquet(tmp_path / "claims" / f"year={year}" / "part-0.parquet")
    (tmp_path / "claims" / ".snapshot").mkdir()
    CLAIMS.write_parquet(tmp_path / "claims" / ".snapshot" / "old.parquet")
    (tmp_path / "claims" / "_temporary").mkdir()
    CLAIMS.write_parquet(tmp_path / "claims" / "_temporary" / "part-9.parquet")
    out = screen(tmp_path / "claims").collect()
    assert out.height == CLAIMS.height
    assert out["year"].to_list() == [2012, 2012, 2012, 2013, 2013]
    assert out.columns[:len(CLAIMS.columns) + 1] == [*CLAIMS.columns, "year"]
    globbed = screen(str(tmp_path / "claims" / "**" / "*.parquet")).collect()
    assert_frame_equal(globbed, out)


def test_a_partition_folder_given_is_no_partition_column(tmp_path: Path) -> None:
    folder = tmp_path / "run=5"
    (folder / "year=2012").mkdir(parents=True)
    CLAIMS.write_parquet(folder / "year=2012" / "a.parquet")
    for given in (folder, str(folder / "**" / "*.parquet"), str(folder / "year=*" / "*.parquet")):
        assert screen(given).collect_schema().names()[:len(CLAIMS.columns) + 1] == [*CLAIMS.columns, "year"]


def test_a_file_uri_goes_to_polars_unchanged(tmp_path: Path, expected: pl.DataFrame,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "claims.parquet"
    CLAIMS.write_parquet(path)
    uri = path.as_uri()
    seen: list[tuple[object, object]] = []
    real_scan = pl.scan_parquet

    def scan_parquet(source: object, **options: object) -> pl.LazyFrame:
        seen.append((source, options.get("storage_options")))
        return real_scan(source, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(pl, "scan_parquet", scan_parquet)
    out = screen(uri, storage_options={"max_retries": 2}).collect()
    assert seen == [([uri], {"max_retries": 2})]
    assert_frame_equal(out, expected)


def test_a_remote_uri_that_cannot_be_read_is_an_input_error() -> None:
    with pytest.raises(codeindex.InputError, match=r"^s3://"):
        screen("s3://codeindex-no-such-bucket/claims/", storage_options={
            "aws_endpoint_url": "http://127.0.0.1:9", "aws_region": "us-east-1", "aws_access_key_id": "x",
            "aws_secret_access_key": "x", "max_retries": 0, "aws_allow_http": "true"})


# ---- the expression namespace, held to the scalar API over whole code sets ----------------------------------

def _scalar(text: str | None, system: str, day: date) -> tuple[Code | None, tuple[object, ...]]:
    """The code a value is, and (short, decimal, valid, defined, billable, defined on ``day``, billable on
    ``day``) by the scalar API (defined and billable: in the newest release, and in the one of ``day``)."""
    if text is None:
        return None, (None,) * 7
    try:
        code = parse_code(text, system)
    except InvalidCodeError:
        return None, (None, None, False, False, False, False, False)
    newest, then = code_set(system), code_set(system, on=day)
    return code, (code.short, code.decimal, True, newest.defined(code), newest.billable(code), then.defined(code),
                  then.billable(code))


ODD = [None, "", " ", "8OO.00", "800..00", "  800.00 ", "v57.22", "s72.001a", "800.", "NULL", "100.7", "E800",
       "9999999", "S72.001AAA", "\u0668\u0660\u0660", "V15.", "A00.0", "410"]


@pytest.mark.parametrize(("system", "day", "ranges"), [
    ("icd9dx", date(2010, 1, 1), ["800.00 - 999.9", "V15.1 - V15.6", "410", "E800 - E807.9", "001.0"]),
    ("icd10cm", date(2016, 1, 1), ["S00.00XA - T88.9XXS", "M54.5", "A00 - B99", "Z00.00 - Z99.89"]),
])
def test_namespace_equals_the_scalar_api_on_the_whole_code_set(system: str, day: date, ranges: list[str]) -> None:
    # Every spelling of the newest release and of the release of ``day`` (codes come and go).
    spellings = pl.concat([code_set(system).spellings["spelling"], code_set(system, on=day).spellings["spelling"]])
    spellings = spellings.unique(maintain_order=True)
    values = [*spellings.to_list(), *spellings.gather_every(50).str.to_lowercase().to_list(), *ODD]
    frame = pl.DataFrame({"code": values}, schema={"code": pl.String})
    ns = pl.col("code").codeindex
    out = frame.select(ns.normalize(system), decimal=ns.normalize(system, "decimal"), valid=ns.is_valid(system),
                       defined=ns.is_defined(system), billable=ns.is_billable(system),
                       defined_then=ns.is_defined(system, on=day), billable_then=ns.is_billable(system, on=day),
                       **{r: ns.match(r, system) for r in ranges})
    scalar = [_scalar(v, system, day) for v in values]
    fields = out.select("code", "decimal", "valid", "defined", "billable", "defined_then", "billable_then")
    assert fields.rows() == [answers for _, answers in scalar]
    assert out["defined"].to_list() != out["defined_then"].to_list()  # the releases differ
    for text in ranges:
        code_range = parse_range(text, system)
        assert out[text].to_list() == [code_range.match(c) if c else None for c, _ in scalar], text
    assert out.schema[ranges[0]] == pl.Enum(["contained", "partial"])


def test_namespace_on_hcpcs_integers_and_in_a_lazy_plan() -> None:
    frame = pl.LazyFrame({"proc": ["97545", "s9117", "97545-GP", None], "n": [97545, 99213, 1, None]})
    out = frame.select(pl.col("proc").codeindex.normalize("cpt"), pl.col("n").codeindex.is_valid("cpt"),
                       m=pl.col("proc").codeindex.match("97545 - 97546", "cpt")).collect()
    assert out.rows() == [("97545", True, "contained"), ("S9117", True, None), (None, False, None),
                          (None, None, None)]
    with pytest.raises(InvalidCodeError, match="no official code set"):
        pl.col("proc").codeindex.is_defined("cpt")
    with pytest.raises(InvalidCodeError, match="unknown code system"):
        pl.col("proc").codeindex.normalize("icd11")
    with pytest.raises(TypeError, match="holds Float64; codes must be text"):
        pl.select(pl.lit(800.0).codeindex.normalize("icd9"))


# ---- the typed package ---------------------------------------------------------------------------------------

USER_SCRIPT = '''\
import polars as pl
import codeindex
from codeindex.screen import screen

short: str = codeindex.parse_code("80000", "icd9dx").decimal
lines: pl.LazyFrame = screen(pl.DataFrame({"claim_id": ["1"]}), policy="0198")
'''


def test_mypy_strict_on_a_user_script(tmp_path: Path) -> None:
    good = tmp_path / "good.py"
    good.write_text(USER_SCRIPT)
    bad = tmp_path / "bad.py"
    bad.write_text(USER_SCRIPT + 'wrong: int = codeindex.parse_code("80000", "icd9dx").decimal\n')
    result = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(good), str(bad)],
                            capture_output=True, text=True, check=False, cwd=tmp_path, timeout=300)
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 1, result.stdout
    assert errors[0].startswith("bad.py:7: error: Incompatible types in assignment"), errors[0]


# ---- the command line: version, module, help with examples ---------------------------------------------------

def cli(*args: str, module: str = "codeindex") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=120,
                          check=False, env={**os.environ, "COLUMNS": "200"})


def test_version_and_python_dash_m() -> None:
    result = cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"codeindex {codeindex_version()}"


def codeindex_version() -> str:
    from importlib.metadata import version

    return version("codeindex-claims")


def test_every_command_and_option_has_help_and_an_example() -> None:
    from argparse import _SubParsersAction

    from codeindex.cli import build_parser

    parser = build_parser()
    assert "thin shell" not in parser.format_help()
    pending, seen = [("codeindex", parser)], 0
    while pending:
        name, command = pending.pop()
        for action in command._actions:
            if isinstance(action, _SubParsersAction):
                pending += [(f"{name} {sub}", p) for sub, p in action.choices.items()]
                continue
            assert action.help, f"{name}: {action.option_strings or action.dest} has no help"
        if (name.count(" ") == 1 and name != "codeindex policy") or name.count(" ") == 2:
            seen += 1
            assert f"example (a step of the story in codeindex --help):\n  {name}" in command.format_help(), name
    assert seen == 12


def test_policy_list_and_lookup_default_to_the_bundled_policy() -> None:
    listed = cli("policy", "list")
    assert listed.returncode == 0
    # not a terminal: id, title, eras, revision, effective date (neither on the bundled page), groups, entries
    assert listed.stdout.splitlines() == ["0198\tWork Hardening Programs\t(ICD-9, ICD-10)\t\t\t5\t20"]
    lookup = cli("lookup", "--system", "icd9", "80000")
    assert lookup.returncode == 0, lookup.stderr
    assert '"range": "800.00-999.9", "match": "contained"' in lookup.stdout


def test_the_python_page_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    readme = (Path(__file__).parent.parent / "docs" / "python.md").read_text(encoding="utf-8")
    code = readme.split("```python\n", 1)[1].split("```", 1)[0]  # the page's first example
    (tmp_path / "claims").mkdir()
    sample = Path(__file__).parent.parent / "data" / "sample_claims.parquet"
    (tmp_path / "claims" / "sample.parquet").write_bytes(sample.read_bytes())
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    written = pl.read_parquet(tmp_path / "not_covered.parquet")
    assert written.height > 0 and set(written["determination"]) == {"not_covered"}
