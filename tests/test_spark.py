"""The Spark engine gives the embedded screen's rows, on a real local Spark session.

One ``local[2]`` session serves the module (starting it is most of the time).  Every
comparison sorts both sides by claim and line (Spark returns rows in no set order) and reads
the embedded screen's categorical and enum columns as text (Spark returns them as strings).
"""

from __future__ import annotations

import os
import shutil
from datetime import date
from pathlib import Path

import polars as pl
import polars.selectors as ps
import pyarrow as pa
import pytest
from bulletins import LIBRARY_POLICY
from polars.testing import assert_frame_equal

pytest.importorskip("pyspark")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("Spark needs Java 17+ (none on PATH, no JAVA_HOME)", allow_module_level=True)

from codeindex import spark as cs
from codeindex.data import data_path
from codeindex.errors import InputError
from codeindex.files import scan_parquet_files
from codeindex.screen import screen as embedded
from codeindex.synth import write_sample

SAMPLE = data_path("sample_claims.parquet")
LONG_KEY = ["claim_id", "line_no"]
CARRIER_KEY = ["CLM_ID", "line_num"]


@pytest.fixture(scope="module")
def spark():  # type: ignore[no-untyped-def]
    session = cs.session("local[2]", app_name="codeindex-tests", **{
        "spark.ui.enabled": "false",
        "spark.sql.shuffle.partitions": "4",
        "spark.sql.session.timeZone": "UTC",
        # Several batches per partition, so that gathering them is exercised.
        "spark.sql.execution.arrow.maxRecordsPerBatch": "1000",
        # A short-lived JVM starts about twice as fast without the optimising JIT.
        "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1",
    })
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def sorted_by(frame: pl.DataFrame, key: list[str]) -> pl.DataFrame:
    """``frame`` in claim and line order, categorical and enum columns as text (Spark has no such types)."""
    assert frame.select(pl.struct(key).is_unique().all()).item(), f"{key} does not identify a line"
    return frame.with_columns(ps.categorical().cast(pl.String), ps.enum().cast(pl.String)).sort(key)


def test_long_sample_equals_embedded(spark) -> None:  # type: ignore[no-untyped-def]
    stats = cs.stats_accumulator(spark)
    result = cs.screen(spark.read.parquet(str(SAMPLE)), partitions=4, stats=stats)
    got = sorted_by(cs.to_polars(result), LONG_KEY)
    expected = sorted_by(embedded(SAMPLE).collect(), LONG_KEY)
    assert_frame_equal(got, expected)
    # The sample has something to find, and it was screened in several partitions.
    assert {"not_covered", "not_applicable"} <= set(expected["determination"])
    assert expected["edits"].list.contains("addon_without_primary").any()
    counts = dict(zip(cs.STAT_FIELDS, stats.value, strict=True))
    assert counts["lines"] == expected.height
    assert counts["partitions"] > 1


def test_a_library_equals_embedded(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    other = tmp_path / "0997.txt"
    other.write_text(LIBRARY_POLICY, encoding="utf-8")
    library = ["0198", str(other)]
    got = sorted_by(cs.to_polars(cs.screen(spark.read.parquet(str(SAMPLE)), policy=library, partitions=3)),
                    LONG_KEY)
    expected = embedded(SAMPLE, policy=library).collect()
    assert (expected["findings"].list.len() > 1).any()  # lines both policies name
    assert_frame_equal(got, sorted_by(expected, LONG_KEY))


def test_revisions_equal_embedded(spark) -> None:  # type: ignore[no-untyped-def]
    from test_revisions import FIRST, SECOND, THIRD

    library = [FIRST, SECOND, THIRD]  # each line against the revision in force on its date
    got = sorted_by(cs.to_polars(cs.screen(spark.read.parquet(str(SAMPLE)), policy=library, partitions=3)),
                    LONG_KEY)
    expected = embedded(SAMPLE, policy=library).collect()
    assert expected["rule_id"].cast(pl.String).str.slice(0, 10).unique().drop_nulls().len() > 1  # several decide
    assert_frame_equal(got, sorted_by(expected, LONG_KEY))


def test_synpuf_carrier_sample_equals_embedded(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    source = write_sample(tmp_path / "carrier.parquet", 600, layout="synpuf-carrier", seed=3)
    result = cs.screen(spark.read.parquet(str(source)), layout="synpuf-carrier")
    got = sorted_by(cs.to_polars(result), CARRIER_KEY)
    expected = sorted_by(embedded(source, layout="synpuf-carrier").collect(), CARRIER_KEY)
    assert_frame_equal(got, expected)
    assert (expected["determination"] == "not_covered").any()


LINE_SCHEMA = "claim_id string, line_no int, procedure_code string, dx1 string, dx2 string, service_date date"
DAY = date(2014, 3, 4)  # ICD-9 era


def test_addon_meets_its_primary_from_another_partition(spark) -> None:  # type: ignore[no-untyped-def]
    # "split": 97545 starts in the first input partition, its add-on 97546 in the second.
    # "alone": 97546 with no 97545 on the claim.
    first = [("split", 1, "97545", "80500", None, DAY), ("alone", 1, "97546", "80500", "V1551", DAY),
             ("other", 1, "99213", "4019", None, DAY)]
    second = [("split", 2, "97546", "80500", None, DAY), ("other", 2, "97110", "4019", None, DAY)]
    lines = spark.createDataFrame([*first, *second], LINE_SCHEMA).repartitionByRange(2, "line_no")
    from pyspark.sql import functions as sf

    where = cs.to_polars(lines.select("claim_id", "line_no", sf.spark_partition_id().alias("p")))
    split = where.filter(pl.col("claim_id") == "split").sort("line_no")["p"].to_list()
    assert split[0] != split[1], "the test needs the claim's lines to start in different partitions"

    got = sorted_by(cs.to_polars(cs.screen(lines)), LONG_KEY)
    edits = {(r["claim_id"], r["line_no"]): r["edits"] for r in got.iter_rows(named=True)}
    assert "addon_without_primary" not in edits[("split", 2)]
    assert "addon_without_primary" in edits[("alone", 1)]
    assert got.filter(pl.col("claim_id") == "split")["determination"].to_list() == ["not_covered"] * 2

    frame = pl.DataFrame([*first, *second], orient="row", schema={
        "claim_id": pl.String, "line_no": pl.Int32, "procedure_code": pl.String, "dx1": pl.String,
        "dx2": pl.String, "service_date": pl.Date})
    assert_frame_equal(got, sorted_by(embedded(frame).collect(), LONG_KEY))

    # The control: screening the partitions as they come, without the shuffle, flags the add-on.
    policy, out, _ = cs._prepare(lines, "0198", "long", {})
    unshuffled = cs._map(lines, cs._partition_screener(policy, "long", {}, out), out)
    control = cs.to_polars(unshuffled).filter(pl.col("claim_id") == "split", pl.col("line_no") == 2)
    assert "addon_without_primary" in control["edits"].item().to_list()


def test_column_overrides_and_options_pass_through(spark) -> None:  # type: ignore[no-untyped-def]
    renamed = {"claim_id": "claim", "line_no": "line", "procedure_code": "proc", "dx1": "d_a", "dx2": "d_b",
               "service_date": "dos"}
    frame = pl.read_parquet(SAMPLE).head(3000).select(*renamed).rename(renamed)
    options = {"claim_id": "claim", "procedure": "proc", "dx": ["d_a", "d_b"],
               "date": "dos", "edits": "all"}
    lines = spark.createDataFrame(
        [tuple(r) for r in frame.iter_rows()],
        "claim long, line int, proc string, d_a string, d_b string, dos date")
    got = sorted_by(cs.to_polars(cs.screen(lines, **options)), ["claim", "line"])
    expected = sorted_by(embedded(frame, **options).collect(), ["claim", "line"])
    assert_frame_equal(got, expected)
    assert expected["edits"].list.len().sum() > 0
    # Dates as text in another format, read by date_format on the executors as in the embedded screen.
    us = frame.with_columns(pl.col("dos").dt.strftime("%m/%d/%Y"))
    as_text = spark.createDataFrame([tuple(r) for r in us.iter_rows()],
                                    "claim long, line int, proc string, d_a string, d_b string, dos string")
    dated = {**options, "date_format": "%m/%d/%Y"}
    got = sorted_by(cs.to_polars(cs.screen(as_text, **dated)), ["claim", "line"])
    assert_frame_equal(got, sorted_by(embedded(us, **dated).collect(), ["claim", "line"]))
    assert not got["edits"].list.contains("invalid_date").any()  # every date read
    assert got.filter(pl.col("determination") != "not_applicable")["policy_version"].null_count() == 0


def test_bad_options_fail_on_the_driver(spark) -> None:  # type: ignore[no-untyped-def]
    lines = spark.createDataFrame([("a", 1, "97545", "80500", None, DAY)], LINE_SCHEMA)
    with pytest.raises(InputError, match="no column 'claim'"):
        cs.screen(lines, claim_id="claim")
    with pytest.raises(InputError, match="policy"):
        cs.screen(lines, policy="no-such-policy")


def test_screen_files_writes_a_parquet_directory(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    output = tmp_path / "screened"
    assert cs.screen_files([str(SAMPLE)], output, spark=spark, partitions=3) == 10_000
    got = sorted_by(pl.read_parquet(output / "*.parquet"), LONG_KEY)
    expected = embedded(SAMPLE).collect()
    # Spark writes plain strings where the embedded screen has categoricals and enums.
    expected = expected.with_columns(pl.col(pl.Categorical, pl.Enum).cast(pl.String))
    assert_frame_equal(got, sorted_by(expected, LONG_KEY))
    assert not list(tmp_path.glob(".codeindex-spark-*"))  # no partial directory left behind

    # An earlier Spark output is replaced; anything else is left alone.
    assert cs.screen_files([str(SAMPLE)], output, spark=spark, partitions=2) == 10_000
    assert len(list(output.glob("*.parquet"))) <= 2
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    with pytest.raises(InputError, match="not an earlier Spark output"):
        cs.screen_files([str(SAMPLE)], precious, spark=spark)
    assert (precious / "notes.txt").read_text() == "keep me"
    with pytest.raises(InputError, match="cannot read"):
        cs.screen_files([str(tmp_path / "missing.parquet")], tmp_path / "out2", spark=spark)

    # An output whose name a pattern could be is that folder.
    bracketed = tmp_path / "screened[1]"
    assert cs.screen_files([str(SAMPLE)], bracketed, spark=spark, partitions=2) == 10_000
    assert scan_parquet_files(sorted(bracketed.glob("*.parquet"))).select(pl.len()).collect().item() == 10_000
    assert not list(tmp_path.glob(".codeindex-spark-*"))


def test_an_input_named_like_a_pattern_is_that_file(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A file whose name Hadoop would read as a pattern (brackets, braces, a star) is read as that file, not as the
    files the pattern matches; a pattern that names no file stays a pattern."""
    lines = pl.read_parquet(SAMPLE)
    for name, decoy in (("in[1].parquet", "in1.parquet"), ("in{a,b}.parquet", "ina.parquet"),
                        ("in*.parquet", "inx.parquet")):
        folder = tmp_path / name.replace(".parquet", "").translate(str.maketrans("[]{}*,", "______"))
        folder.mkdir()
        lines.head(7).write_parquet(folder / name)
        lines.head(3).write_parquet(folder / decoy)
        assert cs.read(spark, [folder / name]).count() == 7, name
    assert cs.read(spark, [tmp_path / "in_1_" / "in*.parquet"]).count() == 3 + 7  # no such file: a pattern


def test_arrow_types_are_normalised_for_spark() -> None:
    from pyspark.sql import types as st

    table = pa.table({
        "s": pa.array(["a", None], pa.string_view()),
        "ls": pa.array(["b", "c"], pa.large_string()),
        "l": pa.array([["x"], None], pa.large_list(pa.string_view())),
        "u": pa.array([1, 2], pa.uint32()),
        "d": pa.array([date(2015, 10, 1), None], pa.date32()),
    })
    out = pa.schema([pa.field(f.name, cs._arrow_for_spark(f.type)) for f in table.schema])
    assert cs.spark_schema(out) == st.StructType([
        st.StructField("s", st.StringType()), st.StructField("ls", st.StringType()),
        st.StructField("l", st.ArrayType(st.StringType())), st.StructField("u", st.LongType()),
        st.StructField("d", st.DateType())])
    cast = cs._for_spark(table, out)
    assert cast.schema == out
    assert cast.to_pylist() == table.to_pylist()
    with pytest.raises(RuntimeError, match="returned columns"):
        cs._for_spark(table.select(["ls", "s", "l", "u", "d"]), out)


def test_ncci_edits_equal_embedded(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from test_ncci_screen import RULES, claims, tables

    source = tmp_path / "visits.parquet"  # numbered, as the lines have no id of their own
    pl.concat([claims(seed, n=80) for seed in range(3)]).with_row_index("n").cast({"n": pl.Int64}).write_parquet(
        source)
    roles = {"member": "member", "provider": "provider", "units": "units", "dx": ["dx1"], "modifiers": ["mod"]}
    library = ["0198", tables(**RULES)]
    expected = embedded(source, policy=library, **roles).collect()
    assert expected["ptp_column1"].is_not_null().any() and expected["mue_limit"].is_not_null().any()
    got = cs.to_polars(cs.screen(spark.read.parquet(str(source)), policy=library, partitions=3, **roles))
    assert_frame_equal(sorted_by(got, ["n"]), sorted_by(expected, ["n"]))
