"""Claim input: reading sources, and the layouts that say which column holds what.

A layout turns its input into claim lines (one row per line, input order kept) and
names the columns the screen reads: claim id, procedure, diagnoses, date of service,
amount, ICD version.  ``long`` is one line per row; ``synpuf-carrier`` is the CMS
DE-SynPUF carrier file, 13 lines per claim row.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from codeindex.errors import InputError, first_line

Source = pl.LazyFrame | pl.DataFrame | str | os.PathLike[str] | Sequence[str | os.PathLike[str]]
LAYOUTS = ("long", "synpuf-carrier")
SYNPUF_LINES = 13
SYNPUF_CLAIM_DX = 8


@dataclass(frozen=True)
class LineColumns:
    """Which columns of the claim lines hold what the screen reads, and which it returns; and, for a
    layout with several lines per input row, how rows become lines (``lines``)."""

    claim_id: str
    procedure: str
    dx: tuple[str, ...]
    date: str | None
    amount: str | None
    icd_version: str | None
    output: tuple[str, ...]
    explode: Callable[[pl.LazyFrame], pl.LazyFrame] | None = None
    lines_per_row: int = 1  # at most this many lines come from one input row

    def lines(self, rows: pl.LazyFrame) -> pl.LazyFrame:
        """The claim lines of input rows, in order.  Columns of ``rows`` named ``__...`` are carried along,
        so a line can say which input row it came from."""
        return self.explode(rows) if self.explode else rows


def _files(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    files: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() in (".parquet", ".csv") and p.is_file())
            if not found:
                raise InputError(f"{path}: directory holds no .parquet or .csv files")
            files += found
        elif any(ch in str(given) for ch in "*?["):
            found = sorted(Path(p) for p in glob.glob(str(given), recursive=True) if Path(p).is_file())
            if not found:
                raise InputError(f"{given}: no files match")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise InputError(f"{path}: no such file or directory")
    return files


def _scan_file(path: Path) -> pl.LazyFrame:
    try:
        # CSV columns stay text, so "0010" keeps its leading zeros.
        frame = pl.scan_csv(path, infer_schema=False) if path.suffix.lower() == ".csv" else pl.scan_parquet(path)
        frame.collect_schema()
    except (pl.exceptions.PolarsError, OSError) as exc:
        kind = path.suffix.lstrip(".") or "parquet"
        raise InputError(f"{path}: cannot read it as {kind}: {first_line(exc)}") from None
    return frame


def read_source(source: Source) -> tuple[pl.LazyFrame, str]:
    """The source as one LazyFrame, and a name for messages."""
    if isinstance(source, pl.LazyFrame):
        return source, "the input frame"
    if isinstance(source, pl.DataFrame):
        return source.lazy(), "the input frame"
    paths = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    files = _files(paths)
    frames = [_scan_file(f) for f in files]
    if len(frames) > 1:
        first = frames[0].collect_schema()
        for path, frame in zip(files[1:], frames[1:], strict=True):
            if frame.collect_schema().names() != first.names():
                raise InputError(f"{path}: its columns differ from those of {files[0]}")
        try:
            combined = pl.concat(frames, how="vertical_relaxed")
            combined.collect_schema()
        except pl.exceptions.PolarsError as exc:
            raise InputError(f"{', '.join(map(str, files))}: cannot combine them: {exc}") from None
        return combined, f"{files[0]} and {len(files) - 1} more"
    return frames[0], str(files[0])


def _dx_columns(names: Sequence[str]) -> tuple[str, ...]:
    numbered = [(int(m.group(1)), n) for n in names if (m := re.fullmatch(r"dx(\d+)", n))]
    return tuple(n for _, n in sorted(numbered))


def _require(schema: pl.Schema, name: str, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in schema]
    if missing:
        raise InputError(f"{name}: no column {missing[0]!r} ({what}); it has: {', '.join(schema.names())}")


def long_lines(frame: pl.LazyFrame, name: str, *, claim_id: str = "claim_id", line_no: str | None = "line_no",
               procedure: str = "procedure_code", dx: Sequence[str] | None = None,
               date: str | None = "service_date", amount: str | None = "paid_amount",
               icd_version: str | None = "icd_version") -> tuple[pl.LazyFrame, LineColumns]:
    """One claim line per row, columns named by default or by the caller."""
    schema = frame.collect_schema()
    _require(schema, name, [claim_id], "the claim id")
    _require(schema, name, [procedure], "the procedure code")
    dx_columns = tuple(dx) if dx else _dx_columns(schema.names())
    if not dx_columns:
        raise InputError(f"{name}: no diagnosis columns (dx1, dx2, ... or --dx)")
    _require(schema, name, dx_columns, "a diagnosis")
    for what, given, default in (("the date of service", date, "service_date"),
                                 ("the amount", amount, "paid_amount"),
                                 ("the ICD version", icd_version, "icd_version"),
                                 ("the line number", line_no, "line_no")):
        if given is not None and given != default:  # a column the caller named must exist
            _require(schema, name, [given], what)
    columns = LineColumns(
        claim_id=claim_id, procedure=procedure, dx=dx_columns, date=date if date in schema else None,
        amount=amount if amount in schema else None,
        icd_version=icd_version if icd_version in schema else None,
        output=tuple(schema.names()))
    return frame, columns


def synpuf_carrier_lines(frame: pl.LazyFrame, name: str) -> tuple[pl.LazyFrame, LineColumns]:
    """Every non-empty HCPCS_CD_i of a carrier claim as a line numbered ``line_num`` = i (the claim rows,
    which ``LineColumns.lines`` turns into lines)."""
    schema = frame.collect_schema()
    claim_dx = [f"ICD9_DGNS_CD_{i}" for i in range(1, SYNPUF_CLAIM_DX + 1)]
    per_line = [f"{c}_{i}" for i in range(1, SYNPUF_LINES + 1)
                for c in ("HCPCS_CD", "LINE_ICD9_DGNS_CD", "LINE_NCH_PMT_AMT")]
    _require(schema, name, ["DESYNPUF_ID", "CLM_ID", "CLM_FROM_DT", *claim_dx, *per_line],
             "a column of the DE-SynPUF carrier layout")
    numbers = range(1, SYNPUF_LINES + 1)
    per_line_columns = {  # each a list of the 13 lines' values, exploded together
        "line_num": pl.lit(list(numbers), pl.List(pl.Int32)),
        "HCPCS_CD": pl.concat_list(pl.col(f"HCPCS_CD_{i}").cast(pl.String) for i in numbers),
        "LINE_ICD9_DGNS_CD": pl.concat_list(pl.col(f"LINE_ICD9_DGNS_CD_{i}").cast(pl.String) for i in numbers),
        "LINE_NCH_PMT_AMT": pl.concat_list(pl.col(f"LINE_NCH_PMT_AMT_{i}").cast(pl.Float64) for i in numbers),
    }

    def explode(rows: pl.LazyFrame) -> pl.LazyFrame:
        carried = [c for c in rows.collect_schema().names() if c.startswith("__")]
        return (rows.select("DESYNPUF_ID", "CLM_ID", "CLM_FROM_DT", *claim_dx, *carried, **per_line_columns)
                .explode(*per_line_columns)
                .filter(pl.col("HCPCS_CD").str.strip_chars().str.len_bytes() > 0))

    output = ("DESYNPUF_ID", "CLM_ID", "CLM_FROM_DT", "line_num", "HCPCS_CD", "LINE_ICD9_DGNS_CD",
              "LINE_NCH_PMT_AMT")
    columns = LineColumns(claim_id="CLM_ID", procedure="HCPCS_CD", dx=("LINE_ICD9_DGNS_CD", *claim_dx),
                          date="CLM_FROM_DT", amount="LINE_NCH_PMT_AMT", icd_version=None, output=output,
                          explode=explode, lines_per_row=SYNPUF_LINES)
    return frame, columns


def claim_lines(source: Source, layout: str = "long", **columns: object) -> tuple[pl.LazyFrame, LineColumns]:
    """Read ``source`` in ``layout``: its rows and the columns to screen (``cols.lines(rows)`` are the lines)."""
    frame, name = read_source(source)
    if layout == "long":
        return long_lines(frame, name, **columns)  # type: ignore[arg-type]
    if layout == "synpuf-carrier":
        if columns:
            raise InputError(f"the synpuf-carrier layout has fixed columns; got options {sorted(columns)}")
        return synpuf_carrier_lines(frame, name)
    raise InputError(f"unknown layout {layout!r} (known: {', '.join(LAYOUTS)})")
