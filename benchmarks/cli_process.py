"""The command line as a user runs it: ``codeindex screen in.parquet -o out.parquet``, the whole process, against
a process that only copies: reads the same rows and columns and writes them to parquet.

    python benchmarks/cli_process.py --rows 1000000 --share 0.004 --share 1

For each share, on the engine comparison's data (``compare.claims_path``), it times, interleaved and as
separate processes (interpreter start-up and imports included in both), the median of ``--repeat`` runs of:

``copy``     ``python -c`` reading the screen's output file and writing its rows and columns to parquet: what
             any process that reads this much and writes this much pays;
``screen``   ``codeindex screen IN -o OUT`` (in memory; the CLI's summary printed to a pipe).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from compare import DATA_DIR, claims_path

COPY = "import sys, polars as pl; pl.scan_parquet(sys.argv[1]).sink_parquet(sys.argv[2])"


def _timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="claim lines (default 1,000,000)")
    parser.add_argument("--share", type=float, action="append", help="as compare.py's --share; repeat (default "
                        "0.004, about 0.5 %% of lines, and 1, all)")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each; the median counts (default 5)")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR, help=f"cache of generated data ({DATA_DIR})")
    args = parser.parse_args(argv)
    print(f"{args.rows:,} lines, median of {args.repeat}, interleaved, whole processes")
    for share in args.share or [0.004, 1.0]:
        source = claims_path(args.rows, data_dir=args.data_dir, share=share)
        with tempfile.TemporaryDirectory() as scratch:
            output, copy = Path(scratch, "out.parquet"), Path(scratch, "copy.parquet")
            screen = [sys.executable, "-m", "codeindex", "screen", str(source), "-o", str(output),
                      "--streaming", "off"]
            subprocess.run(screen, check=True, capture_output=True)  # warm: page cache, and the output to copy
            times: dict[str, list[float]] = {"copy": [], "screen": []}
            for _ in range(args.repeat):
                times["copy"].append(_timed([sys.executable, "-c", COPY, str(output), str(copy)]))
                times["screen"].append(_timed(screen))
        copy_s, screen_s = statistics.median(times["copy"]), statistics.median(times["screen"])
        print(f"share {share:g}: copy {copy_s:.2f} s, screen {screen_s:.2f} s, {screen_s / copy_s:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
