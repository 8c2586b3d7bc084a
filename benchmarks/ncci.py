"""What NCCI edits cost: the screen against CPB 0198 with full-size NCCI tables, against CPB 0198 alone.

The claims are ``compare.claims_path``'s, with the roles NCCI edits read added (a member for every three claims,
a provider, units of service: 1, and 2 on every fourth line of a claim); the tables are
``synth.write_ncci_files``' full-size synthetic ones in the published layouts (about 2 million PTP rows, 15,000
MUE codes, 1,000 add-on pairs), pairs and MUEs of the claims' own codes included, and MUE quarters in force on
the claims' dates.  Timed, interleaved in one process (median of ``--repeat``): the bare read, the screen
against CPB 0198 alone, and the screen with the NCCI tables beside it; first, once each, compiling the tables
from their files (no cache) and loading them from the cache.

    python benchmarks/ncci.py --rows 2000000
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import polars as pl
from compare import (  # the engine comparison's lines, its timing
    DATA_DIR,
    claims_path,
    interleaved_medians,
    print_medians,
)

from codeindex.policy.ncci import load_ncci
from codeindex.screen import screen
from codeindex.synth import CLAIM_PROCEDURES, write_ncci_files

ROLES = {"member": "member_id", "provider": "provider_id", "units": "units"}
MUE_QUARTERS = ("01-01-2011", "01-01-2014")  # MUE files in force on the claims' dates (2011 to 2015)


def claims_with_roles(rows: int, data_dir: Path, share: float | None) -> Path:
    """The benchmark's claim lines with a member (one for every three claims), a provider and units."""
    source = claims_path(rows, data_dir=data_dir) if share is None else claims_path(rows, data_dir=data_dir,
                                                                                   share=share)
    path = source.with_name(f"{source.stem}-roles.parquet")
    if not path.exists():
        partial = path.with_name(f"{path.stem}.{os.getpid()}.partial")
        pl.scan_parquet(source).with_columns(
            member_id=(pl.col("claim_id") // 3).cast(pl.String), provider_id=(pl.col("claim_id") % 997).cast(pl.String),
            units=((pl.col("line_no") % 4 == 0).cast(pl.Int32) + 1)).sink_parquet(partial)  # mostly 1, some 2
        partial.replace(path)
    return path


def ncci_files(data_dir: Path, claim_pairs: float, ptp_rows: int) -> Path:
    """Synthetic NCCI files of ``ptp_rows`` PTP edits (a share ``claim_pairs`` of the pairs of the claims' codes among
    them), made on first use."""
    directory = data_dir / f"ncci-ptp{ptp_rows}-pairs{claim_pairs:g}"
    if not directory.exists():
        partial = data_dir / f"{directory.name}.{os.getpid()}.partial"
        write_ncci_files(partial, ptp_rows=ptp_rows, mue_quarters=MUE_QUARTERS, claim_pairs=claim_pairs)
        partial.replace(directory)
    return directory


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000, help="claim lines (default 2,000,000)")
    parser.add_argument("--share", type=float, help="share of lines CPB 0198 names (default: the benchmark file's)")
    parser.add_argument("--repeat", type=int, default=7, help="runs of each; the median counts (default 7)")
    parser.add_argument("--pairs", type=float, default=0.1,
                        help="share of the ordered pairs of the claims' codes that are PTP edits (default 0.1)")
    parser.add_argument("--ptp-rows", type=int, default=2_000_000, help="PTP edits (default 2,000,000: full size)")
    parser.add_argument("--few-edits", action="store_true",
                        help="drop the MUEs of the claims' everyday codes (with --pairs 0, only the edits of CPB "
                        "0198's codes and a few fixed pairs apply: about 0.5 %% of lines)")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR, help=f"cache of generated data ({DATA_DIR})")
    args = parser.parse_args(argv)
    path = claims_with_roles(args.rows, args.data_dir, args.share)
    files = ncci_files(args.data_dir, args.pairs, args.ptp_rows)
    with tempfile.TemporaryDirectory() as cache:
        started = time.perf_counter()
        tables = load_ncci(files, cache_dir=cache)
        compiled = time.perf_counter() - started
        if args.few_edits:
            everyday = sorted(CLAIM_PROCEDURES - {"97545", "97546"})
            tables = replace(tables, mue=tables.mue.filter(~pl.col("code_text").is_in(everyday)))
        started = time.perf_counter()
        load_ncci(files, cache_dir=cache)
        cached = time.perf_counter() - started
    runs: dict[str, Callable[[], pl.DataFrame]] = {
        "scan": lambda: pl.scan_parquet(path).collect(),
        "screen, CPB 0198": lambda: screen(path, "0198", **ROLES).collect(),
        "screen, CPB 0198 and NCCI": lambda: screen(path, ["0198", tables], **ROLES).collect(),
    }
    medians = interleaved_medians(runs, args.repeat)
    edited = screen(path, ["0198", tables], **ROLES).select(
        pl.col("edits").list.eval(pl.element().is_in(["ncci_ptp", "mue_units", "aoc_without_primary"])).list.any()
        .sum()).collect().item()
    print(f"{args.rows:,} lines ({edited:,} draw an NCCI edit); tables: {tables.ptp.height:,} PTP rows, "
          f"{tables.mue.height:,} MUE rows, {tables.aoc.height:,} add-on rows")
    print(f"compiling the tables from their files {compiled:6.2f} s; loading them from the cache {cached:6.2f} s")
    print(f"median of {args.repeat}, interleaved")
    print_medians(medians, {"scan": "scan", "screen, CPB 0198": "CPB 0198 alone"})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
