"""Screen N claim lines with the embedded polars engine and with Spark, and say where Spark's time goes.

    python benchmarks/spark_vs_embedded.py --rows 2000000 [--master local[2]] [--partitions P]
                                           [--repeat K] [--json FILE]

Makes (or reuses, under ``benchmarks/.data/``) the long-layout parquet of N lines that
``benchmarks/compare.py`` uses, then times:

embedded    ``codeindex.screen.screen(path).collect()``, and ``sink_parquet`` to a temporary file;
            the first (cold) run loads the code sets, the best of ``--repeat`` warm runs follows.
spark       what ``codeindex screen --engine spark`` costs from nothing: starting the session
            (JVM, SparkContext), then the first job, read parquet -> screen -> write parquet
            (which also starts the Python workers, each loading the code sets once).

Then, on the warm session, the best of ``--repeat`` runs of jobs that each add one stage,
all ending in Spark's ``noop`` sink (every row and column materialised, nothing written):

scan        read the parquet;
shuffle     + repartition by claim id (the shuffle that brings a claim's lines together);
arrow       + ``mapInArrow`` with a function that hands its batches straight back (Arrow out of
            and into the JVM, the Python workers, gathering a partition);
screen      + the embedded screen on each partition instead (= ``codeindex.spark.screen``);
write       ``codeindex.spark.screen`` writing parquet to a temporary directory;
count       ``codeindex.spark.screen(...).count()``.

The differences between consecutive jobs are the cost of each stage.  During the
``screen`` job an accumulator sums, over partitions, the seconds spent inside the per-partition
function: waiting for batches, Arrow to polars, the polars screen, polars back to Arrow.
Before anything is printed, the Spark result is checked against the embedded one, row for row.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
from compare import claims_path  # the same file the engine comparison uses

from codeindex import spark as cs
from codeindex.screen import screen as embedded

DATA_DIR = Path(__file__).resolve().parent / ".data"
KEY = ["claim_id", "line_no"]


def timed(run: Callable[[], Any]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def best(repeat: int, run: Callable[[], Any]) -> float:
    return min(timed(run) for _ in range(repeat))


def echo(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """A partition's batches, gathered as the screen gathers them, handed straight back."""
    gathered = list(batches)
    yield from gathered


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000, help="claim lines (default 2,000,000)")
    parser.add_argument("--master", default="local[2]", help="Spark master (default local[2])")
    parser.add_argument("--partitions", type=int, default=None,
                        help="partitions of the claim shuffle (default: spark.sql.shuffle.partitions, "
                             "coalesced by adaptive execution)")
    parser.add_argument("--driver-memory", default="4g", help="spark.driver.memory (default 4g)")
    parser.add_argument("--polars-threads", type=int, default=None,
                        help="POLARS_MAX_THREADS in the Spark Python workers (default 1 on a local master)")
    parser.add_argument("--repeat", type=int, default=3, help="warm runs per measurement (default 3)")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--json", type=Path, help="also write the numbers to this file")
    args = parser.parse_args(argv)
    if args.rows < 1 or args.repeat < 1:
        parser.error("--rows and --repeat must be at least 1")

    started = time.perf_counter()
    path = claims_path(args.rows, data_dir=args.data_dir)
    print(f"data: {path} ({args.rows:,} lines; ready in {time.perf_counter() - started:.1f}s)", flush=True)
    scratch = Path(tempfile.mkdtemp(prefix="codeindex-spark-bench-"))
    numbers: dict[str, Any] = {"rows": args.rows, "master": args.master, "partitions": args.partitions,
                               "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                                           "platform": platform.platform()}}
    try:
        # --- embedded ---------------------------------------------------------------------------
        cold = timed(lambda: embedded(path).collect())
        warm = best(args.repeat, lambda: embedded(path).collect())
        sink = best(args.repeat, lambda: embedded(path).sink_parquet(scratch / "embedded.parquet"))
        expected = embedded(path).collect().sort(KEY)
        numbers["embedded"] = {"collect_cold_s": cold, "collect_s": warm, "sink_parquet_s": sink}
        print(f"embedded: collect {warm:.2f}s (cold {cold:.2f}s), sink_parquet {sink:.2f}s", flush=True)

        # --- spark, from nothing ---------------------------------------------------------------------
        conf = {"spark.ui.enabled": "false", "spark.driver.memory": args.driver_memory,
                "spark.sql.session.timeZone": "UTC"}
        if args.polars_threads:
            conf["spark.executorEnv.POLARS_MAX_THREADS"] = str(args.polars_threads)
        t0 = time.perf_counter()
        spark = cs.session(args.master, app_name="codeindex-bench", **conf)
        session_s = time.perf_counter() - t0
        spark.sparkContext.setLogLevel("ERROR")
        first_s = timed(lambda: cs.screen_files([str(path)], scratch / "first", spark=spark,
                                                partitions=args.partitions))
        numbers["spark_cold"] = {"session_s": session_s, "first_job_s": first_s, "total_s": session_s + first_s}
        print(f"spark cold: session {session_s:.2f}s + read/screen/write {first_s:.2f}s", flush=True)

        got = pl.read_parquet(scratch / "first" / "*.parquet").sort(KEY)
        if not got.equals(expected):
            print("error: the Spark result differs from the embedded one", file=sys.stderr)
            return 1

        # --- spark, warm, stage by stage ---------------------------------------------------------------
        def lines() -> Any:
            return spark.read.parquet(str(path))

        def shuffled() -> Any:
            claim = cs._column("claim_id")
            return lines().repartition(args.partitions, claim) if args.partitions else lines().repartition(claim)

        def noop(frame: Any) -> None:
            frame.write.format("noop").mode("overwrite").save()

        def write_run() -> None:
            target = scratch / "write"
            shutil.rmtree(target, ignore_errors=True)
            cs.screen(lines(), partitions=args.partitions).write.parquet(str(target))

        schema = cs._arrow_schema_of(lines())
        stats = cs.stats_accumulator(spark)
        stages = {
            "scan": lambda: noop(lines()),
            "shuffle": lambda: noop(shuffled()),
            "arrow": lambda: noop(cs._map(shuffled(), echo, schema)),
            "screen": lambda: noop(cs.screen(lines(), partitions=args.partitions, stats=stats)),
            "write": write_run,
            "count": lambda: cs.screen(lines(), partitions=args.partitions).count(),
        }
        warm_s = {name: best(args.repeat, run) for name, run in stages.items()}
        per_partition = {k: v / args.repeat for k, v in zip(cs.STAT_FIELDS, stats.value, strict=True)}
        numbers["spark_warm"] = warm_s
        numbers["spark_partition_function"] = per_partition
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if "spark_warm" not in numbers:
        return 1
    spark.stop()

    rate = args.rows
    e, c, w, p = numbers["embedded"], numbers["spark_cold"], numbers["spark_warm"], per_partition
    print()
    print(f"{args.rows:,} lines, {os.cpu_count()} CPUs, Spark {args.master}, "
          f"{int(p['partitions'])} screen partitions")
    print(f"  embedded collect         {e['collect_s']:7.2f}s  {rate / e['collect_s']:>12,.0f} lines/s")
    print(f"  embedded sink_parquet    {e['sink_parquet_s']:7.2f}s  {rate / e['sink_parquet_s']:>12,.0f} lines/s")
    print(f"  spark end to end (cold)  {c['total_s']:7.2f}s  {rate / c['total_s']:>12,.0f} lines/s"
          f"   (session {c['session_s']:.2f}s + job {c['first_job_s']:.2f}s)")
    print(f"  spark warm, to parquet   {w['write']:7.2f}s  {rate / w['write']:>12,.0f} lines/s")
    print(f"  spark warm, count()      {w['count']:7.2f}s  {rate / w['count']:>12,.0f} lines/s")
    print("where a warm Spark run's time goes (each job adds one stage; best of "
          f"{args.repeat}):")
    steps = [("read parquet", w["scan"]), ("+ shuffle by claim", w["shuffle"] - w["scan"]),
             ("+ Arrow to Python and back", w["arrow"] - w["shuffle"]),
             ("+ polars screen per partition", w["screen"] - w["arrow"]),
             ("+ write parquet", w["write"] - w["screen"])]
    for label, seconds in steps:
        print(f"  {label:32s} {seconds:7.2f}s")
    print("inside the per-partition function, summed over partitions (mean of the screen job's runs):")
    for field in ("gather_s", "from_arrow_s", "screen_s", "to_arrow_s"):
        print(f"  {field:32s} {p[field]:7.2f}s")
    if args.json:
        args.json.write_text(json.dumps(numbers, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
