"""A claim line's own facts: its date of service, ICD era, code-set release and ICD version, read from its
columns as polars expressions (no per-row Python).

A line's era comes from its ``icd_version`` value, else its date of service (ICD-9 before 2015-10-01),
else the default the caller gives; its release is the era's code-set release in force on its date (the
newest when the date is unknown).  Code columns must hold text (or integers, read as their digits).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import polars as pl

from codeindex.codesets import release_index, releases
from codeindex.errors import InputError
from codeindex.policy.model import DIAGNOSIS_SYSTEMS, ICD10_START
from codeindex.screen.columns import ERAS, LINE
from codeindex.screen.frames import nonempty
from codeindex.screen.layouts import LineColumns


def as_text(name: str) -> pl.Expr:
    return pl.col(name).cast(pl.String)


def check_code_columns(cols: LineColumns, schema: pl.Schema, where: str) -> None:
    """Code columns must hold text (or integers, read as their digits): a float code has lost digits."""
    for column in (cols.procedure, *cols.dx):
        dtype = schema[column]
        if dtype in (pl.String, pl.Categorical, pl.Null) or isinstance(dtype, pl.Enum) or dtype.is_integer():
            continue
        why = " (a code stored as a float has lost digits: 800.00 reads as 800.0)" if dtype.is_float() else ""
        raise InputError(f"{where}: column {column!r} holds {dtype}; expected codes as text{why}")


def service_date(column: str, dtype: pl.DataType, where: str, date_format: str | None = None) -> pl.Expr:
    """A date of service from a Date, Datetime, YYYYMMDD / YYYY-MM-DD text, or YYYYMMDD integer column; with a
    ``date_format`` (polars' ``str.to_date`` format, ``%m/%d/%Y``), text written that way instead."""
    col = pl.col(column)
    if dtype == pl.Date:
        return col
    if isinstance(dtype, pl.Datetime):
        return col.dt.date()
    if dtype.is_integer():
        col = col.cast(pl.String)
    elif dtype != pl.String:
        raise InputError(f"{where}: column {column!r} holds {dtype}; expected a date, or text as YYYYMMDD "
                         "or YYYY-MM-DD")
    text = col.str.strip_chars()
    if date_format is not None:
        return text.str.to_date(date_format, strict=False)
    # Exactly YYYYMMDD or YYYY-MM-DD: chrono alone reads "2015101" as 2015-10-01, and a leading minus as a year BC.
    return pl.coalesce(pl.when(text.str.contains(r"^\d{8}$")).then(text.str.to_date("%Y%m%d", strict=False)),
                       pl.when(text.str.contains(r"^\d{4}-\d{2}-\d{2}$"))
                       .then(text.str.to_date("%Y-%m-%d", strict=False)))


# 9 / 10 as numbers or text ("9.0", "09", "ICD-9", "ICD10CM"), and 0, the CMS diagnosis version code for ICD-10.


# 9 / 10 as numbers or text ("9.0", "09", "ICD-9", "ICD10CM"), and 0, the CMS diagnosis version code for ICD-10.
_VERSION = r"^(?:ICD[-\s]?)?(0?9|10|0)(?:[-\s]?CM)?(?:\.0)?$"  # no sign: "-9" names no version
_ERA_OF_VERSION = {"9": "icd9", "09": "icd9", "10": "icd10", "0": "icd10"}


def icd_version_era(column: str) -> pl.Expr:
    """The era an ``icd_version`` value names, null when blank or unreadable."""
    token = as_text(column).str.strip_chars().str.to_uppercase().str.extract(_VERSION, 1)
    return token.replace_strict(_ERA_OF_VERSION, default=None, return_dtype=pl.String)


def newest(era: str) -> int:
    """The newest release of an era's diagnosis code set (for lines whose date is unknown)."""
    return len(releases(DIAGNOSIS_SYSTEMS[era])) - 1


@dataclass(frozen=True)
class LineFacts:
    """How a line's facts are read from the input's columns (``cols``, of ``schema``; ``where`` names the input in
    messages; ``icd_version`` is the era of lines with neither an icd_version value nor a readable date)."""

    cols: LineColumns
    schema: pl.Schema
    where: str
    icd_version: int | None

    def era(self) -> pl.Expr:
        """The ICD era of a line: its icd_version, else its date of service, else the default."""
        sources = []
        if self.cols.icd_version:
            sources.append(icd_version_era(self.cols.icd_version))
        if self.cols.date:
            day = self.date()
            sources.append(pl.when(day < ICD10_START).then(pl.lit("icd9")).when(day.is_not_null())
                           .then(pl.lit("icd10")))
        if self.icd_version is not None:
            sources.append(pl.lit(f"icd{self.icd_version}"))
        return pl.coalesce(*sources, pl.lit(None, pl.String))

    def release(self) -> pl.Expr:
        """The index of the era's code-set release in force on the line's date of service (``codesets``), its
        newest when the date is unknown; null when the era is."""
        era = self.era()
        day = self.date() if self.cols.date else pl.lit(None, pl.Date)
        in_force = {e: release_index(DIAGNOSIS_SYSTEMS[e], day).fill_null(newest(e)) for e in ERAS}
        return pl.when(era == "icd9").then(in_force["icd9"]).when(era == "icd10").then(in_force["icd10"])

    def date_is_written(self) -> bool:
        """Whether the date column holds dates as written (text, integers), which may not read as a date."""
        assert self.cols.date is not None
        return not (self.schema[self.cols.date] == pl.Date or isinstance(self.schema[self.cols.date], pl.Datetime))

    def date(self) -> pl.Expr:
        assert self.cols.date is not None
        return service_date(self.cols.date, self.schema[self.cols.date], self.where, self.cols.date_format)

    def claim(self) -> pl.Expr:
        claim = pl.col(self.cols.claim_id)
        return claim.fill_nan(None) if self.schema[self.cols.claim_id].is_float() else claim  # NaN: no claim id

    def epoch(self, boundaries: tuple[datetime.date, ...]) -> pl.Expr:
        """The epoch of a library's revisions the line's date falls in (the number of ``boundaries`` on or before
        it); the newest when the date is unknown."""
        if not boundaries:
            return pl.lit(0)
        day = self.date() if self.cols.date else pl.lit(None, pl.Date)
        starts = pl.lit(pl.Series(boundaries, dtype=pl.Date))
        return pl.when(day.is_null()).then(len(boundaries)).otherwise(starts.search_sorted(day, side="right"))

    def line(self, boundaries: tuple[datetime.date, ...] = ()) -> dict[str, pl.Expr]:
        """A screened line's ``LINE`` columns, of ``LINE``'s types (``boundaries``: the library's revision epochs)."""
        cols, none = self.cols, pl.lit(None, pl.String)
        columns = {
            "claim": self.claim(), "procedure": as_text(cols.procedure), "era": self.era(), "release": self.release(),
            "date_raw": as_text(cols.date) if cols.date and self.date_is_written() else none,
            "date": self.date() if cols.date else pl.lit(None, pl.Date),
            "version_raw": as_text(cols.icd_version) if cols.icd_version else none,
            "version_era": icd_version_era(cols.icd_version) if cols.icd_version else none,
            "modifier_columns": nonempty(pl.concat_str([as_text(c).str.strip_chars() for c in cols.modifiers],
                                                       separator=", ", ignore_nulls=True))
            if cols.modifiers else none,
            "epoch": self.epoch(boundaries)}
        return {name: expr if (dtype := LINE[name]) is None else expr.cast(dtype) for name, expr in columns.items()}

    def diagnoses(self) -> list[pl.Expr]:
        """A line's diagnosis columns as text, in the layout's order."""
        return [as_text(c) for c in self.cols.dx]
