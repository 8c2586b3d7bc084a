"""Classifying the distinct codes of a screen, once each, through the policy's index.

Claim volumes are huge and the code domain is tiny, so every distinct procedure
value and every distinct (diagnosis value, era) pair is classified here in Python,
and polars carries the answers to the rows.  The edits:

- ``invalid_code``: not a code of its system;
- ``undefined_code``: a valid form, not in the official code set;
- ``non_billable_code``: truncated, it has children in the code set;
- ``partial_match``: its leaf span only overlaps a policy range;
- ``icd_version_mismatch``: a diagnosis of the other ICD version than the line's;
- ``addon_without_primary`` (a claim-level edit, see determination).
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from codeindex.codesets import code_set
from codeindex.errors import InvalidCodeError
from codeindex.policy.model import DIAGNOSIS_SYSTEMS, ERA_NAMES, Policy, PolicyGroup
from codeindex.systems import parse_code

ERAS = ("icd9", "icd10")
COVERED = ("covered", "covered_if_criteria_met")
PROCEDURE_SYSTEMS = ("hcpcs",)


def procedure_label(short: str) -> str:
    return f"{'CPT' if short[0].isdigit() else 'HCPCS'} {short}"


def _primary(group: PolicyGroup, index: int) -> str | None:
    """The primary of an add-on entry: the nearest entry above it that is not an add-on."""
    for entry in reversed(group.entries[:index]):
        if not entry.add_on:
            return entry.start
    return None


def classify_procedures(values: Iterable[str | None], policy: Policy) -> pl.DataFrame:
    """One row per distinct procedure value: its code, error, and per era the policy entry it is in."""
    rows = []
    for raw in values:
        row: dict[str, object] = {"__proc": raw, "__proc_code": None, "__proc_label": None, "__proc_error": None}
        try:
            code = parse_code(raw if raw is not None else "", "hcpcs")
        except InvalidCodeError as exc:
            row["__proc_error"] = exc.problem if raw not in (None, "") else "the procedure code is empty"
        else:
            row["__proc_code"], row["__proc_label"] = code.short, procedure_label(code.short)
            for hit in policy.lookup(code):
                if hit.match != "contained" or hit.group.system not in PROCEDURE_SYSTEMS:
                    continue
                era = hit.version.era
                if row.get(f"__cov_{era}") is None:
                    position = hit.group.entries.index(hit.entry)
                    row.update({f"__cov_{era}": hit.group.coverage, f"__prange_{era}": str(hit.entry.range),
                                f"__pdesc_{era}": hit.entry.description, f"__addon_{era}": hit.entry.add_on,
                                f"__primary_{era}": _primary(hit.group, position) if hit.entry.add_on else None})
        rows.append(row)
    schema = {"__proc": pl.String, "__proc_code": pl.String, "__proc_label": pl.String, "__proc_error": pl.String}
    for era in ERAS:
        schema |= {f"__cov_{era}": pl.String, f"__prange_{era}": pl.String, f"__pdesc_{era}": pl.String,
                   f"__addon_{era}": pl.Boolean, f"__primary_{era}": pl.String}
    return pl.DataFrame(rows, schema=schema)


DIAGNOSIS_SCHEMA = {
    "__dx": pl.String, "__era": pl.String, "__dx_text": pl.String, "__dx_edits": pl.String,
    "__dx_notes": pl.String, "__nc_ranges": pl.String, "__nc_label": pl.String, "__cov_hit": pl.Boolean,
}
_LISTS = ("__dx_edits", "__dx_notes", "__nc_ranges")
_SEPARATOR = "\x1f"  # lists travel as joined text: building a polars list per value is slow


def _in_code_set(text: str, system: str) -> bool:
    try:
        return code_set(system).defined(parse_code(text, system))
    except InvalidCodeError:
        return False


def _diagnosis(raw: str, era: str, policy: Policy) -> tuple:
    """(text, edits, notes, not-covered ranges, first not-covered label, in a covered group) of one value."""
    system, other_era = DIAGNOSIS_SYSTEMS[era], ERAS[1 - ERAS.index(era)]
    text = raw.strip()
    mismatch = f"diagnosis {text} is an {ERA_NAMES[other_era]} code on an {ERA_NAMES[era]} line"
    try:
        code = parse_code(text, system)
    except InvalidCodeError as exc:
        if _in_code_set(text, DIAGNOSIS_SYSTEMS[other_era]):
            return text, ["icd_version_mismatch"], [mismatch], [], None, False
        return text, ["invalid_code"], [f"diagnosis {text!r} is not an {ERA_NAMES[era]} code ({exc.problem})"], \
            [], None, False
    codes = code_set(system)
    if not codes.defined(code):
        if _in_code_set(text, DIAGNOSIS_SYSTEMS[other_era]):
            return text, ["icd_version_mismatch"], [mismatch], [], None, False
        return text, ["undefined_code"], [f"diagnosis {text} is not in the {codes.release} code set"], [], None, False
    edits, notes, ranges, label, covered = [], [], [], None, False
    if not codes.billable(code):
        edits.append("non_billable_code")
        notes.append(f"diagnosis {text} is truncated (it has more specific codes)")
    for hit in policy.lookup(code, era=era):  # type: ignore[arg-type]
        if hit.group.system != system:
            continue
        if hit.match == "partial":
            if "partial_match" not in edits:
                edits.append("partial_match")
            notes.append(f"diagnosis {text} only partly overlaps {hit.entry.range}")
        elif hit.group.coverage == "not_covered":
            ranges.append(str(hit.entry.range))
            label = label or hit.entry.label()
        elif hit.group.coverage in COVERED:
            covered = True
    return text, edits, notes, ranges, label, covered


def _python_table(pairs: Iterable[tuple[str, str]], policy: Policy) -> pl.DataFrame:
    """The diagnosis table for values that need the full parser (any not spelled as in the code set)."""
    columns: list[list] = [[] for _ in DIAGNOSIS_SCHEMA]
    for raw, era in pairs:
        text, edits, notes, ranges, label, covered = _diagnosis(raw, era, policy)
        row = (raw, era, text, _SEPARATOR.join(edits), _SEPARATOR.join(notes), _SEPARATOR.join(ranges), label,
               covered)
        for column, value in zip(columns, row, strict=True):
            column.append(value)
    return pl.DataFrame(dict(zip(DIAGNOSIS_SCHEMA, columns, strict=True)), schema=DIAGNOSIS_SCHEMA)


def _range_table(policy: Policy, era: str) -> pl.DataFrame:
    """The diagnosis entries of one era's version: keys, coverage, range text and label."""
    version = policy.version(era)  # type: ignore[arg-type]
    rows = [] if version is None else [
        (e.range.lo, e.range.hi, g.coverage, str(e.range), e.label())
        for g in version.groups if g.system == version.diagnosis_system for e in g.entries]
    return pl.DataFrame(rows, schema={"r_lo": pl.Int64, "r_hi": pl.Int64, "r_coverage": pl.String,
                                      "r_range": pl.String, "r_label": pl.String}, orient="row")


def _set_table(values: pl.DataFrame, era: str, policy: Policy) -> pl.DataFrame:
    """The diagnosis table for values spelled as a defined code of the era's code set, by joins.

    Gives exactly what ``_diagnosis`` gives for them (a test holds the two together)."""
    codes = values.join(code_set(DIAGNOSIS_SYSTEMS[era]).spellings, left_on="__spelling", right_on="spelling")
    hits = (codes.select("__dx", "__dx_text", "lo", "hi").join_where(
        _range_table(policy, era), pl.col("lo") <= pl.col("r_hi"), pl.col("hi") >= pl.col("r_lo"))
        .with_columns(contained=(pl.col("lo") >= pl.col("r_lo")) & (pl.col("hi") <= pl.col("r_hi")))
        .sort("__dx", "r_lo", "r_hi")
        .group_by("__dx").agg(
            partial=pl.format("diagnosis {} only partly overlaps {}", "__dx_text", "r_range")
            .filter(~pl.col("contained")),
            nc=pl.col("r_range").filter(pl.col("contained") & (pl.col("r_coverage") == "not_covered")),
            nc_label=pl.col("r_label").filter(pl.col("contained") & (pl.col("r_coverage") == "not_covered")).first(),
            covered=(pl.col("contained") & pl.col("r_coverage").is_in(list(COVERED))).any()))
    text = pl.col("__dx_text")
    partial = pl.col("partial").fill_null(pl.lit([], pl.List(pl.String)))
    truncated = ~pl.col("billable")
    return codes.join(hits, on="__dx", how="left").select(
        "__dx", "__era", "__dx_text",
        __dx_edits=pl.concat_list(
            pl.when(truncated).then(pl.lit(["non_billable_code"])).otherwise(pl.lit([], pl.List(pl.String))),
            pl.when(partial.list.len() > 0).then(pl.lit(["partial_match"]))
            .otherwise(pl.lit([], pl.List(pl.String)))),
        __dx_notes=pl.concat_list(
            pl.when(truncated).then(pl.concat_list(pl.format("diagnosis {} is truncated (it has more specific codes)",
                                                             text)))
            .otherwise(pl.lit([], pl.List(pl.String))),
            partial),
        __nc_ranges=pl.col("nc").fill_null(pl.lit([], pl.List(pl.String))),
        __nc_label=pl.col("nc_label"),
        __cov_hit=pl.col("covered").fill_null(False),
    )


def classify_diagnoses(pairs: pl.DataFrame, policy: Policy) -> pl.DataFrame:
    """One row per distinct (diagnosis value, era) of ``pairs`` (columns ``__dx``, ``__era``): its edits,
    notes, the not-covered ranges it lies in, and whether it lies in a covered group.

    Values spelled as a code of the era's code set (nearly all of them) are classified by joins
    against the code set and the policy's ranges; the rest go through the full parser one by one.
    """
    values = pairs.unique().with_columns(__dx_text=pl.col("__dx").str.strip_chars()).with_columns(
        __spelling=pl.col("__dx_text").str.to_uppercase())
    tables = []
    for era in ERAS:
        of_era = values.filter(pl.col("__era") == era)
        if of_era.height == 0:
            continue
        known = _set_table(of_era, era, policy)
        tables.append(known)
        rest = of_era.join(known.select("__dx"), on="__dx", how="anti")
        python = _python_table(rest.select("__dx", "__era").iter_rows(), policy)
        tables.append(python.with_columns(
            pl.when(pl.col(c) == "").then(pl.lit([], pl.List(pl.String))).otherwise(pl.col(c).str.split(_SEPARATOR))
            .alias(c) for c in _LISTS))
    if not tables:
        return _python_table([], policy).with_columns(pl.lit([], pl.List(pl.String)).alias(c) for c in _LISTS)
    return pl.concat(tables, how="vertical")
