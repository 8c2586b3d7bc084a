"""The layouts that say which column of the claim lines holds what (the files are read by ``source``).

A layout turns its input into claim lines (one row per line, input order kept) and
names the columns the screen reads: claim id, procedure, diagnoses, date of service,
amount, ICD version.  ``long`` is one line per row; ``synpuf-carrier`` is the CMS
DE-SynPUF carrier file, 13 lines per claim row.
"""

from __future__ import annotations

import difflib
import fnmatch
import glob
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from codeindex.errors import InputError
from codeindex.screen.source import Source, read_source

LAYOUTS = ("long", "synpuf-carrier")
# long_lines' options: the columns, and how the date column is written
COLUMN_OPTIONS = ("claim_id", "procedure", "dx", "date", "amount", "icd_version", "modifiers", "date_format",
                  "provider", "member", "units")
FLAGS = {"claim_id": "--claim-id", "procedure": "--procedure"}  # the CLI's options naming them, as messages say
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
    modifiers: tuple[str, ...] = ()  # columns holding the procedure's modifiers (GP, 59), if the claims have them
    lines_per_row: int = 1  # at most this many lines come from one input row
    date_format: str | None = None  # how text dates are written (polars' str.to_date format), else YYYY-MM-DD/YYYYMMDD
    provider: str | None = None  # the billing provider's column, if given: the summary's totals per provider
    member: str | None = None  # the member's (beneficiary's) column, if given: the summary counts members
    units: str | None = None  # the units of service's column, if given: NCCI's medically unlikely edits count them

    def lines(self, rows: pl.LazyFrame) -> pl.LazyFrame:
        """The claim lines of input rows, in order.  Columns of ``rows`` named ``__...`` are carried along,
        so a line can say which input row it came from."""
        return self.explode(rows) if self.explode else rows


def _dx_columns(names: Sequence[str]) -> tuple[str, ...]:
    numbered = [(int(m.group(1)), n) for n in names if (m := re.fullmatch(r"dx(\d+)", n))]
    return tuple(n for _, n in sorted(numbered))


def _require(schema: pl.Schema, name: str, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in schema]
    if missing:
        raise InputError(f"{name}: no column {missing[0]!r} ({what}); it has: {', '.join(schema.names())}")


def _suggestion(schema: pl.Schema, wanted: str, hints: Sequence[str]) -> str:
    """A column the user may have meant: the same name in another case, or one whose name holds a hint word."""
    names = schema.names()
    same = [n for n in names if n.casefold() == wanted.casefold()]
    found = same or difflib.get_close_matches(wanted, names, n=1, cutoff=0.75) or [
        n for n in names if any(h in n.casefold() for h in hints)][:1]
    return f" (did you mean {found[0]!r}?)" if found else ""


_HINTS = {"claim_id": ("claim", "clm"), "procedure": ("hcpcs", "cpt", "proc"), "dx": ("dx", "diag", "icd")}


def _dx_pattern(schema: pl.Schema, pattern: str) -> list[str]:
    """The columns a diagnosis pattern (``ICD_DX*``) matches, in the order of the number in their names."""
    matched = [n for n in schema.names() if fnmatch.fnmatchcase(n, pattern)]

    def number(name: str) -> tuple[int, str]:
        digits = re.findall(r"\d+", name)
        return (int(digits[-1]) if digits else -1, name)

    return sorted(matched, key=number)


def long_lines(frame: pl.LazyFrame, name: str, *, claim_id: str = "claim_id",
               procedure: str = "procedure_code", dx: str | Sequence[str] | None = None,
               date: str | None = "service_date", amount: str | None = "paid_amount",
               icd_version: str | None = "icd_version",
               modifiers: Sequence[str] = (), date_format: str | None = None, provider: str | None = None,
               member: str | None = None, units: str | None = None) -> tuple[pl.LazyFrame, LineColumns]:
    """One claim line per row, columns named by default or by the caller (``dx``: names or patterns such as
    ``ICD_DX*``; ``modifiers``: columns holding the procedure's modifiers, whose names the reason gives when they
    hold any; ``date_format``: how a text date column is written, e.g. ``%m/%d/%Y``).  Every column that is
    missing is named in one error, with the option that names it and a column the caller may have meant."""
    schema = frame.collect_schema()
    given = (dx,) if isinstance(dx, str) else tuple(dx or ())
    dx_columns = tuple(c for g in given for c in (_dx_pattern(schema, g) if glob.has_magic(g) else [g])) \
        if given else _dx_columns(schema.names())
    problems = []
    for role, column, what in (("claim_id", claim_id, "the claim id"), ("procedure", procedure, "the procedure code")):
        if column not in schema:
            problems.append(f"no column {column!r} ({what}: pass {FLAGS[role]} COLUMN, {role}= in Python)"
                            f"{_suggestion(schema, column, _HINTS[role])}")
    if not dx_columns:
        unmatched = [g for g in given if glob.has_magic(g)]
        problems.append(f"no column matches {unmatched[0]!r} (a diagnosis pattern)" if unmatched else
                        "no diagnosis columns (dx1, dx2, ...: pass --dx COLUMN for each, or a pattern such as "
                        f"--dx 'ICD_DX*'; dx= in Python){_suggestion(schema, 'dx1', _HINTS['dx'])}")
    problems += [f"no column {c!r} (a diagnosis){_suggestion(schema, c, _HINTS['dx'])}"
                 for c in dx_columns if c not in schema]
    modifiers = tuple([modifiers] if isinstance(modifiers, str) else modifiers)
    problems += [f"no column {c!r} (a modifier){_suggestion(schema, c, ())}" for c in modifiers if c not in schema]
    problems += [f"no column {c!r} ({what}){_suggestion(schema, c, ())}"
                 for what, c in (("the provider", provider), ("the member", member), ("the units", units))
                 if c is not None and c not in schema]
    for what, named, default in (("the date of service", date, "service_date"),
                                 ("the amount", amount, "paid_amount"),
                                 ("the ICD version", icd_version, "icd_version")):
        if named is not None and named != default and named not in schema:  # a column the caller named
            problems.append(f"no column {named!r} ({what}){_suggestion(schema, named, ())}")
    if problems:
        raise InputError(f"{name}: {'; '.join(problems)}; it has: {', '.join(schema.names())}")
    twice = [c for c in dict.fromkeys(dx_columns) if dx_columns.count(c) > 1]
    if twice:
        raise InputError(f"{name}: diagnosis column {twice[0]!r} is given twice")
    columns = LineColumns(
        claim_id=claim_id, procedure=procedure, dx=dx_columns, date=date if date in schema else None,
        amount=amount if amount in schema else None,
        icd_version=icd_version if icd_version in schema else None,
        output=tuple(schema.names()), modifiers=modifiers, date_format=date_format, provider=provider, member=member,
        units=units)
    return frame, columns


def synpuf_carrier_lines(frame: pl.LazyFrame, name: str) -> tuple[pl.LazyFrame, LineColumns]:
    """Every non-empty HCPCS_CD_i of a carrier claim as a line numbered ``line_num`` = i (the claim rows,
    which ``LineColumns.lines`` turns into lines).  Every column of the claim comes along: a per-line
    column (``X_1`` .. ``X_13``) as the line's own ``X``, any other as it is."""
    schema = frame.collect_schema()
    claim_dx = [f"ICD9_DGNS_CD_{i}" for i in range(1, SYNPUF_CLAIM_DX + 1)]
    line_fields = ("HCPCS_CD", "LINE_ICD9_DGNS_CD", "LINE_NCH_PMT_AMT")
    numbers = range(1, SYNPUF_LINES + 1)
    _require(schema, name, ["DESYNPUF_ID", "CLM_ID", "CLM_FROM_DT", *claim_dx,
                            *(f"{c}_{i}" for i in numbers for c in line_fields)],
             "a column of the DE-SynPUF carrier layout")
    stems = [m.group(1) for c in schema.names() if (m := re.fullmatch(r"(.+)_1", c))]
    per_line = [s for s in dict.fromkeys([*line_fields, *stems]) if all(f"{s}_{i}" in schema for i in numbers)]
    taken = [s for s in per_line if s in schema]
    if taken:
        raise InputError(f"{name}: column {taken[0]!r} is also the name of the lines' {taken[0]}_1..13")
    typed = {"HCPCS_CD": pl.String, "LINE_ICD9_DGNS_CD": pl.String, "LINE_NCH_PMT_AMT": pl.Float64}
    per_line_columns = {  # each a list of the 13 lines' values, exploded together
        "line_num": pl.lit(list(numbers), pl.List(pl.Int32)),
        **{s: pl.concat_list(pl.col(f"{s}_{i}").cast(typed[s]) if s in typed else pl.col(f"{s}_{i}")
                             for i in numbers) for s in per_line}}
    line_columns = {f"{s}_{i}" for s in per_line for i in numbers}
    claim_columns = [c for c in schema.names() if c not in line_columns]
    first = ["DESYNPUF_ID", "CLM_ID", "CLM_FROM_DT"]
    rest = [c for c in claim_columns if c not in first]

    def explode(rows: pl.LazyFrame) -> pl.LazyFrame:
        carried = [c for c in rows.collect_schema().names() if c.startswith("__") and c not in schema]
        return (rows.select(*first, *rest, *carried, **per_line_columns)
                .explode(*per_line_columns)
                .filter(pl.col("HCPCS_CD").str.strip_chars().str.len_bytes() > 0))

    output = (*first, "line_num", *per_line, *rest)
    columns = LineColumns(claim_id="CLM_ID", procedure="HCPCS_CD", dx=("LINE_ICD9_DGNS_CD", *claim_dx),
                          date="CLM_FROM_DT", amount="LINE_NCH_PMT_AMT", icd_version=None, output=output,
                          explode=explode, lines_per_row=SYNPUF_LINES)
    return frame, columns


def claim_lines(source: Source, layout: str = "long", *, storage_options: Mapping[str, Any] | None = None,
                **columns: object) -> tuple[pl.LazyFrame, LineColumns]:
    """Read ``source`` in ``layout``: its rows and the columns to screen (``cols.lines(rows)`` are the lines).
    ``storage_options`` go to polars' scanners with cloud URIs."""
    unknown = [option for option in columns if option not in COLUMN_OPTIONS]
    if unknown:  # named here: the layout function that would refuse it is no name the caller knows
        raise TypeError(f"unknown option {unknown[0]!r}; the column options are {', '.join(COLUMN_OPTIONS)}")
    frame, name = read_source(source, storage_options)
    if layout == "long":
        return long_lines(frame, name, **columns)  # type: ignore[arg-type]
    if layout == "synpuf-carrier":
        if columns:
            raise InputError(f"the synpuf-carrier layout has fixed columns; got options {sorted(columns)}")
        return synpuf_carrier_lines(frame, name)
    raise InputError(f"unknown layout {layout!r} (known: {', '.join(LAYOUTS)})")
