"""Reading a local file as itself, never as a pattern: the one rule every reader of a path follows.

polars takes a path holding ``*``, ``?`` or ``[`` for a glob, so ``claims[1].parquet`` would read
``claims1.parquet``, or fail when nothing matches; and so would any file under a folder so named (a cache
root, a temporary directory, the folder codeindex is installed in).  Patterns in what a user gives are
expanded by ``codeindex.screen.source.input_files`` alone (a path that exists is that file, and only a name
that is none may be a pattern); every path read after that, given or made from one given, is read by these
functions.  They live below every layer (the code systems read their bundled tables with them, the NCCI
cache its entries) so that no reader states the rule again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl


def scan_parquet_files(files: str | Path | list[Path], **options: Any) -> pl.LazyFrame:
    """Parquet files read as themselves; ``options`` go to ``pl.scan_parquet``."""
    return pl.scan_parquet(files, glob=False, **options)


def scan_csv_files(files: str | Path | list[Path], **options: Any) -> pl.LazyFrame:
    """CSV files read as themselves; ``options`` go to ``pl.scan_csv``."""
    return pl.scan_csv(files, glob=False, **options)
