"""How close can a screen built the way codeindex's is come to a bare read of the file?

Times, interleaved in one process (median of ``--repeat``): the bare read (``scan``), the screen
with its explanation left out (every pass over all lines still runs: distinct procedures, the
screened-line mask, picking the screened lines, placing results on every line; their diagnoses are
neither read nor classified, and each screened line just gets the not-applicable result), and the
real screen.  The middle one is the floor for the
target "screening takes at most 1.5x the time of reading": whatever the explanation costs comes on
top of it.

    python benchmarks/floor.py --rows 2000000
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from unittest import mock

import polars as pl
from compare import (  # the engine comparison's file, its timing
    DATA_DIR,
    claims_path,
    interleaved_medians,
    print_medians,
)

from codeindex.screen import driver, screen
from codeindex.screen.cells import DiagnosisCodes
from codeindex.screen.columns import RESULT


def _no_explanation(lines: pl.DataFrame, *_: object) -> pl.DataFrame:
    """An empty result for every screened line: the cost of placing results without making them."""
    return pl.DataFrame(schema=RESULT).clear(lines.height)


def _no_diagnoses(*_: object) -> tuple[DiagnosisCodes, None]:
    """No diagnosis read, none classified (the explanation that would take them is left out too)."""
    return DiagnosisCodes(pl.DataFrame(), pl.Series([], dtype=pl.String)), None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000, help="claim lines (default 2,000,000)")
    parser.add_argument("--repeat", type=int, default=11, help="runs of each; the median counts (default 11)")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR, help=f"cache of generated data ({DATA_DIR})")
    args = parser.parse_args(argv)
    path = claims_path(args.rows, data_dir=args.data_dir)

    def passes_only() -> pl.DataFrame:
        with (mock.patch.object(driver, "explain", _no_explanation),
              mock.patch.object(driver._Picker, "_diagnoses", _no_diagnoses)):
            return screen(path).collect()

    runs: dict[str, Callable[[], pl.DataFrame]] = {
        "scan": lambda: pl.scan_parquet(path).collect(),
        "screen without its explanation": passes_only,
        "screen": lambda: screen(path).collect(),
    }
    medians = interleaved_medians(runs, args.repeat)
    print(f"{args.rows:,} lines, median of {args.repeat}, interleaved")
    print_medians(medians, {"scan": "scan"})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
