# PROVISIONAL (not committed): replaced by the ncci-files branch's module
from __future__ import annotations

from dataclasses import dataclass

import polars as pl


@dataclass(frozen=True)
class NcciTables:
    ptp: pl.DataFrame
    mue: pl.DataFrame
    aoc: pl.DataFrame
    files: tuple = ()
    fingerprint: str = ""
