"""Claim screening on Apache Spark: the embedded polars screen, run on every partition.

There is no second implementation here.  ``screen`` shuffles the claim lines so that all
lines of a claim land in one partition (an add-on edit needs its claim's other lines),
then hands each partition, as Arrow record batches, to the very function the embedded
engine runs (``codeindex.screen.screen``), through ``DataFrame.mapInArrow``.  The policy
is loaded and compiled once, on the driver, and travels inside the task closure; the
output schema is declared up front, by screening an empty frame of the input's schema.

Spark is an optional dependency (the ``spark`` extra: ``pip install -e '.[spark]'`` in a clone, or
``extras.install_hint("spark")``, plus Java 17+).
Importing this module fails with ImportError when pyspark is missing, or pandas, which
pyspark's ``mapInArrow`` insists on finding on the driver (no data goes through it).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow as pa

from codeindex.errors import InputError, first_line
from codeindex.extras import install_hint
from codeindex.policy import Policy, load_policies
from codeindex.policy.ncci import NcciTables
from codeindex.screen import PolicyChoice, library_parts
from codeindex.screen.columns import RESULT
from codeindex.screen.ncci import NCCI_RESULT, tables_for

try:
    import pandas  # noqa: F401
    import pyspark  # noqa: F401
except ImportError as exc:
    raise ImportError(f"codeindex.spark needs pyspark and pandas ({install_hint('spark')}): {exc}") \
        from exc

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import DataType, StructType

DEFAULT_MASTER = "local[2]"
_PANDAS_WARNING = "PySpark does not yet fully support pandas"
# What one partition reports when ``screen`` is given a ``stats`` accumulator: partitions,
# lines, seconds waiting for its batches (the shuffle read and Spark's Arrow encoding),
# converting Arrow to polars, screening, converting back to Arrow for Spark.
STAT_FIELDS = ("partitions", "lines", "gather_s", "from_arrow_s", "screen_s", "to_arrow_s")


# --- types: what polars hands back, as Arrow that Spark reads, and as Spark's schema --------------

def _arrow_for_spark(t: pa.DataType) -> pa.DataType:
    """``t`` as a type Spark's Arrow reader takes: plain strings, binaries and lists, signed ints."""
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return pa.string()
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_binary_view(t) \
            or pa.types.is_fixed_size_binary(t):
        return pa.binary()
    if pa.types.is_dictionary(t):
        return _arrow_for_spark(t.value_type)
    if pa.types.is_uint8(t):
        return pa.int16()
    if pa.types.is_uint16(t):
        return pa.int32()
    if pa.types.is_uint32(t) or pa.types.is_uint64(t):
        return pa.int64()  # a uint64 beyond int64 fails the cast loudly rather than wrapping
    if pa.types.is_float16(t):
        return pa.float32()
    if pa.types.is_date64(t):
        return pa.date32()
    if pa.types.is_timestamp(t):
        return pa.timestamp("us", t.tz)
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t) \
            or pa.types.is_list_view(t) or pa.types.is_large_list_view(t):
        return pa.list_(pa.field("element", _arrow_for_spark(t.value_type), nullable=True))
    if pa.types.is_struct(t):
        return pa.struct([pa.field(f.name, _arrow_for_spark(f.type), nullable=True) for f in t])
    if pa.types.is_map(t):
        return pa.map_(_arrow_for_spark(t.key_type), _arrow_for_spark(t.item_type))
    return t


def _spark_type(t: pa.DataType) -> DataType:
    """The Spark type of an Arrow type that ``_arrow_for_spark`` has normalised."""
    from pyspark.sql import types as st

    simple = {pa.string(): st.StringType(), pa.binary(): st.BinaryType(), pa.bool_(): st.BooleanType(),
              pa.int8(): st.ByteType(), pa.int16(): st.ShortType(), pa.int32(): st.IntegerType(),
              pa.int64(): st.LongType(), pa.float32(): st.FloatType(), pa.float64(): st.DoubleType(),
              pa.date32(): st.DateType(), pa.null(): st.NullType()}
    if t in simple:
        return simple[t]
    if pa.types.is_decimal(t) and t.precision <= 38:
        return st.DecimalType(t.precision, t.scale)
    if pa.types.is_timestamp(t):
        return st.TimestampType() if t.tz else st.TimestampNTZType()
    if pa.types.is_list(t):
        return st.ArrayType(_spark_type(t.value_type), containsNull=True)
    if pa.types.is_struct(t):
        return st.StructType([st.StructField(f.name, _spark_type(f.type), nullable=True) for f in t])
    if pa.types.is_map(t):
        return st.MapType(_spark_type(t.key_type), _spark_type(t.item_type), valueContainsNull=True)
    raise InputError(f"a column of type {t} cannot be handed to Spark")


def spark_schema(schema: pa.Schema) -> StructType:
    """The Spark schema of an Arrow schema (after ``_arrow_for_spark``); every field nullable."""
    from pyspark.sql.types import StructField, StructType

    return StructType([StructField(f.name, _spark_type(_arrow_for_spark(f.type)), nullable=True)
                       for f in schema])


def _arrow_schema_of(df: DataFrame) -> pa.Schema:
    """The Arrow schema of the batches Spark hands ``mapInArrow`` for ``df``."""
    from pyspark.sql.pandas.types import to_arrow_schema

    try:
        return to_arrow_schema(df.schema, timezone="UTC")
    except TypeError:  # pyspark < 4 takes no timezone and puts UTC on timestamps itself
        return to_arrow_schema(df.schema)


def _for_spark(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` cast to ``schema``: string views and large types made plain, names and order checked."""
    if table.schema.names != schema.names:
        raise RuntimeError(f"the embedded screen returned columns {table.schema.names}, "
                           f"expected {schema.names}")
    return table if table.schema.equals(schema) else table.cast(schema)


# --- the per-partition function -------------------------------------------------------------------

def _partition_screener(policy: Policy | list[Policy | NcciTables], layout: str, columns: Mapping[str, Any],
                        out: pa.Schema,
                        stats: Any = None) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """The function ``mapInArrow`` runs on each partition: all its batches, screened in one call.

    The embedded screen must see every line of a claim in the same call, so the batches of a
    partition are gathered into one frame first.  ``stats``, when given, is an accumulator
    that each partition adds a tuple of ``STAT_FIELDS`` to.
    """
    options = dict(columns)

    def screen_partition(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from codeindex.screen import screen as embedded

        started = time.perf_counter()
        gathered = list(batches)
        lines = sum(b.num_rows for b in gathered)
        if lines == 0:
            return
        arrived = time.perf_counter()
        frame = pl.from_arrow(pa.Table.from_batches(gathered))
        assert isinstance(frame, pl.DataFrame)
        converted = time.perf_counter()
        result = embedded(frame, policy=policy, layout=layout, **options).collect()
        screened = time.perf_counter()
        # Large strings and lists cast to Spark's plain ones cheaply; string views would be copied twice.
        table = _for_spark(result.to_arrow(compat_level=pl.CompatLevel.oldest()), out)
        done = time.perf_counter()
        if stats is not None:
            stats.add((1, lines, arrived - started, converted - arrived, screened - converted,
                       done - screened))
        yield from table.to_batches()

    return screen_partition


LAYOUT_OPTIONS = ("claim_id", "procedure", "dx", "date", "amount", "modifiers", "member", "provider",
                  "units")  # options naming columns


def screen(df: DataFrame, policy: PolicyChoice | Sequence[PolicyChoice] = "0198", layout: str = "long", *,
           partitions: int | None = None, stats: Any = None, **columns: Any) -> DataFrame:
    """Screen the claim lines of a Spark DataFrame: the same rows and columns as the embedded screen.

    ``policy`` is what the embedded screen takes: one policy, or a list of them (a library, each line's
    ``findings`` listing every policy that names its procedure).  The policies are read and parsed once,
    on the driver, and ship with the task; each executor compiles the library once.

    ``df`` holds claims in ``layout`` (``long``: one line per row; ``synpuf-carrier``: the
    DE-SynPUF carrier file).  Other keywords go to ``codeindex.screen.screen`` as they are:
    the long layout's column overrides (``claim_id=``, ``procedure=``,
    ``dx=[...]``, ``date=``, ``amount=``, ``member=``, ``provider=``, ``units=``), ``icd_version=``,
    ``edits=``, ``ncci_setting=``.  The lines are repartitioned by claim id (by member with NCCI
    tables in the library and a member column: a member's claims and visits then meet in one
    partition), into ``partitions`` (default ``spark.sql.shuffle.partitions``, which adaptive query
    execution may coalesce), and each partition is screened in one call.  NCCI tables are cut on the
    driver to the rows the input's procedure codes can draw (one job reads its distinct procedure
    values), so the task carries those only.
    Rows come back in no particular order: sort by claim and line when order matters.
    ``stats`` is an optional accumulator (``stats_accumulator``) for where the time goes.
    """
    compiled, out, group_key = _prepare(df, policy, layout, columns)
    group = _column(group_key)
    shuffled = df.repartition(partitions, group) if partitions else df.repartition(group)
    return _map(shuffled, _partition_screener(compiled, layout, columns, out, stats), out)


def _prepare(df: DataFrame, policy: PolicyChoice | Sequence[PolicyChoice], layout: str,
             columns: Mapping[str, Any]) -> tuple[Policy | list[Policy | NcciTables], pa.Schema, str]:
    """The policy or policies (and NCCI tables, cut to the input's procedure codes), loaded on the driver, the
    Arrow schema of the screen's output, and the column whose equal values must meet in one partition: the
    layout's claim id, or with NCCI tables the member's when there is one.

    The schema comes from screening an empty frame of the input's schema, so bad column
    options fail here, on the driver, with the embedded screen's own message.
    """
    from codeindex.screen import claim_lines
    from codeindex.screen import screen as embedded

    library, bulletins, tables = library_parts(policy)  # one set of NCCI tables at most, beside a policy
    loaded = list(load_policies(bulletins))  # ids checked here, on the driver
    for each in loaded:
        each.index  # noqa: B018 - build the interval index here, so that it ships built
    empty = pl.from_arrow(_arrow_schema_of(df).empty_table())
    assert isinstance(empty, pl.DataFrame)
    probe = embedded(empty, policy=[*loaded, *([tables] if tables else [])] if library else loaded[0], layout=layout,
                     **columns).collect().to_arrow().schema  # options checked, with the embedded screen's messages
    _, cols = claim_lines(empty, layout, **{k: v for k, v in columns.items() if k in LAYOUT_OPTIONS})
    cut = []
    if tables is not None:
        values = [row[0] for row in df.select(_column(cols.procedure).cast("string")).distinct().collect()]
        cut.append(tables_for(tables, values))
    compiled: Policy | list[Policy | NcciTables] = [*loaded, *cut] if library else loaded[0]
    schema = pa.schema([pa.field(f.name, _arrow_for_spark(f.type), nullable=True) for f in probe])
    return compiled, schema, cols.member if tables is not None and cols.member else cols.claim_id


def _map(df: DataFrame, function: Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]],
         out: pa.Schema) -> DataFrame:
    with warnings.catch_warnings():  # mapInArrow checks pandas' version; no data goes through pandas
        warnings.filterwarnings("ignore", message=_PANDAS_WARNING, category=FutureWarning)
        return df.mapInArrow(function, spark_schema(out))


class _SumTuples:
    """An accumulator parameter that adds tuples element by element (for ``stats``)."""

    def zero(self, value: tuple[float, ...]) -> tuple[float, ...]:
        return tuple(0 for _ in value)

    def addInPlace(self, a: tuple[float, ...], b: tuple[float, ...]) -> tuple[float, ...]:
        return tuple(x + y for x, y in zip(a, b, strict=True))


def stats_accumulator(spark: SparkSession) -> Any:
    """An accumulator to pass as ``screen(..., stats=)``; its ``.value`` lines up with ``STAT_FIELDS``."""
    return spark.sparkContext.accumulator(tuple(0 for _ in STAT_FIELDS), _SumTuples())  # type: ignore[arg-type,unused-ignore]


def _column(name: str) -> Any:
    from pyspark.sql import functions as sf

    return sf.col("`" + name.replace("`", "``") + "`")


# --- sessions, files, and results as polars ------------------------------------------------------

def session(master: str | None = None, app_name: str = "codeindex", **conf: str) -> SparkSession:
    """A Spark session for screening.

    ``master`` None means the one ``spark-submit`` gave, or ``local[2]`` when run outside it.
    On a local master, Python workers run this interpreter (unless ``PYSPARK_PYTHON`` says
    otherwise), so a local session works from an unactivated virtualenv, and polars runs one
    thread per task (unless ``POLARS_MAX_THREADS`` says otherwise).  ``conf`` keys have dots:
    pass them as a dict (``session(**{"spark.sql.shuffle.partitions": "8"})``).
    """
    from pyspark.sql import SparkSession

    if not os.environ.get("JAVA_HOME") and shutil.which("java") is None:
        raise InputError("Spark needs Java 17 or later: no java on PATH and no JAVA_HOME")
    builder = SparkSession.builder.appName(app_name)
    launched = "PYSPARK_GATEWAY_PORT" in os.environ  # by spark-submit or the pyspark shell
    if master is None and not launched and SparkSession.getActiveSession() is None:
        master = DEFAULT_MASTER
    if master is not None:
        builder = builder.master(master)
    if (master or "").startswith("local"):
        # PySpark takes the workers' interpreter from the driver's environment, not from a conf.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        if "POLARS_MAX_THREADS" not in os.environ:  # a task has one core; more threads only contend
            builder = builder.config("spark.executorEnv.POLARS_MAX_THREADS", "1")
    for key, value in conf.items():
        builder = builder.config(key, value)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_PANDAS_WARNING, category=FutureWarning)
        return builder.getOrCreate()


def read(spark: SparkSession, inputs: Sequence[str | os.PathLike[str]]) -> DataFrame:
    """Parquet files or directories (any Spark path: local, ``hdfs://``, ``s3a://``) as one DataFrame.

    CSV files (``.csv``) are read with a header and every column as text, as the embedded
    engine reads them; a call takes parquet or CSV, not both.
    """
    paths = [str(p) for p in inputs]
    if not paths:
        raise InputError("no input files")
    # A path that exists here is that file or folder: Hadoop would take the brackets, braces, stars and
    # question marks of its name for a pattern (``claims[1].parquet`` read ``claims1.parquet``), so they are
    # escaped.  Any other path (a cluster's, or a pattern meant as one) goes to Spark as written.
    readable = [_literal(p) if "://" not in p and Path(p).exists() else p for p in paths]
    csv = [p.lower().endswith(".csv") for p in paths]
    if any(csv) and not all(csv):
        raise InputError("inputs mix CSV and parquet; convert them to one format")
    from pyspark.errors import AnalysisException

    try:
        if all(csv):
            return spark.read.csv(readable, header=True, inferSchema=False)
        return spark.read.parquet(*readable)
    except AnalysisException as exc:
        raise InputError(f"{', '.join(paths)}: cannot read: {first_line(exc)}") from None


def _literal(path: str) -> str:
    """A local path as a Hadoop pattern that matches only itself (its pattern characters escaped)."""
    return re.sub(r"([\\{}\[\]*?])", r"\\\1", path)


def screen_files(inputs: Sequence[str | os.PathLike[str]], output: str | os.PathLike[str], master: str | None = None,
                 policy: PolicyChoice | Sequence[PolicyChoice] = "0198", layout: str = "long", *,
                 partitions: int | None = None, spark: SparkSession | None = None, **columns: Any) -> int:
    """Read ``inputs`` with Spark, screen them, write a directory of parquet part files; the lines written.

    ``inputs`` are parquet files or directories (or CSV files) on any path Spark reads.  An
    ``output`` on this machine's file system is written beside itself and renamed into place;
    it may replace an earlier Spark output (a directory with a ``_SUCCESS`` marker) but nothing
    else.  Elsewhere (``hdfs://``, ``s3a://``, or no scheme on a cluster) it must not exist.
    ``master`` None means the one ``spark-submit`` gave, else ``local[2]``; a session this call
    starts, it stops.  Other keywords (column overrides, ``icd_version=``, ``edits=``) go to the embedded screen.
    """
    from pyspark.sql import SparkSession

    target = str(output)
    started_here = spark is None and SparkSession.getActiveSession() is None
    active = spark or session(master)
    try:
        final = _local_path(active, target)
        if final is not None and final.exists() and not _earlier_output(final):
            raise InputError(f"{final}: already exists and is not an earlier Spark output; remove it or "
                             "choose another output")
        result = screen(read(active, inputs), policy, layout, partitions=partitions, **columns)
        if final is None:
            _write(result, target)
            return int(active.read.parquet(target).count())  # from the parquet footers: no second screen
        final.parent.mkdir(parents=True, exist_ok=True)
        # Beside the output, under a name of our own: Spark takes a file URI's escapes (an output named
        # ``out[1]``) as part of the name, and its reads take brackets for a pattern.
        partial = Path(tempfile.mkdtemp(prefix=".codeindex-spark-", suffix=".partial", dir=final.parent))
        try:
            _write(result, (partial / "out").as_uri())
            written = int(active.read.parquet((partial / "out").as_uri()).count())
            if final.exists():
                shutil.rmtree(final)
            os.replace(partial / "out", final)
        finally:
            shutil.rmtree(partial, ignore_errors=True)
        return written
    finally:
        if started_here:
            active.stop()


def _local_path(spark: SparkSession, target: str) -> Path | None:
    """``target`` as a path of this machine's file system, or None when Spark writes it elsewhere.

    A path without a scheme is on the cluster's default file system (``fs.defaultFS``).
    """
    if target.startswith("file:"):
        return Path(target.removeprefix("file:").removeprefix("//")).resolve()
    if "://" in target:
        return None
    try:
        default_fs = spark.sparkContext._jsc.hadoopConfiguration().get("fs.defaultFS")
    except Exception:  # Spark Connect has no JVM here: trust the configuration, if it says
        default_fs = spark.conf.get("spark.hadoop.fs.defaultFS", None)
    return Path(target).resolve() if (default_fs or "file:///").startswith("file:") else None


def _earlier_output(path: Path) -> bool:
    """Whether ``path`` is a directory Spark wrote: a _SUCCESS marker, part files, checksums."""
    if not path.is_dir() or not (path / "_SUCCESS").is_file():
        return False
    return all(p.is_file() and (p.name.startswith(("part-", "_SUCCESS", "._SUCCESS", ".part-")))
               for p in path.iterdir())


def _write(result: DataFrame, target: str) -> None:
    from pyspark.errors import AnalysisException

    try:
        result.write.mode("errorifexists").parquet(target)
    except AnalysisException as exc:
        raise InputError(f"{target}: cannot write: {first_line(exc)}") from None


def to_polars(df: DataFrame) -> pl.DataFrame:
    """Collect a Spark DataFrame through Arrow (no pandas) as a polars DataFrame, a screen's result
    columns back in the embedded engine's types (Spark has no categorical or enum)."""
    if hasattr(df, "toArrow"):  # pyspark >= 4
        table = df.toArrow()
    else:
        batches = df._collect_as_arrow()  # type: ignore[operator,unused-ignore]  # pyspark 3.5: a method
        table = pa.Table.from_batches(batches) if batches else _arrow_schema_of(df).empty_table()
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    types = pl.Schema({name: dtype for name, dtype in RESULT.items() if frame.schema.get(name) == pl.String}
                      | {name: dtype for name, dtype in NCCI_RESULT.items() if name in frame.schema})
    return frame.cast(types)
