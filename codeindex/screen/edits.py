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


FINDINGS_SCHEMA = {
    "__dx": pl.String, "__era": pl.String, "__dx_text": pl.String, "__seq": pl.Int32, "__kind": pl.String,
    "__item": pl.String, "__label": pl.String,
}
"""What a diagnosis value has to say, one row per finding, ordered within a value by ``__seq`` (0 for the
code itself, else the dense rank of the policy range it concerns).  ``__kind`` is one of:
``edit`` (``__item`` is the edit), ``note`` (``__item`` a sentence for the reason), ``nc`` (the value lies in
the not-covered range ``__item``, ``__label`` quotes it), ``cov`` (it lies in a covered range).
A value with nothing to say has no rows: most values, so the lines' lists are built from few rows."""
Finding = tuple[int, str, str | None, str | None]


def _in_code_set(text: str, system: str) -> bool:
    try:
        return code_set(system).defined(parse_code(text, system))
    except InvalidCodeError:
        return False


def _range_table(policy: Policy, era: str) -> pl.DataFrame:
    """The diagnosis entries of one era's version: keys, rank, coverage, range text and label."""
    version = policy.version(era)  # type: ignore[arg-type]
    rows = [] if version is None else [
        (e.range.lo, e.range.hi, g.coverage, str(e.range), e.label())
        for g in version.groups if g.system == version.diagnosis_system for e in g.entries]
    rank = {pair: i for i, pair in enumerate(sorted({(lo, hi) for lo, hi, *_ in rows}), start=1)}
    return pl.DataFrame([(*row, rank[row[:2]]) for row in rows], orient="row", schema={
        "r_lo": pl.Int64, "r_hi": pl.Int64, "r_coverage": pl.String, "r_range": pl.String, "r_label": pl.String,
        "r_seq": pl.Int32})


def _diagnosis(raw: str, era: str, policy: Policy, ranks: dict[tuple[int, int], int]) -> tuple[str, list[Finding]]:
    """The trimmed text and the findings of one diagnosis value on a line of ``era``; ``ranks`` gives the
    ``__seq`` of each of the era's ranges by its keys."""
    system, other_era = DIAGNOSIS_SYSTEMS[era], ERAS[1 - ERAS.index(era)]
    text = raw.strip()
    mismatch: list[Finding] = [(0, "edit", "icd_version_mismatch", None),
                               (0, "note", f"diagnosis {text} is an {ERA_NAMES[other_era]} code on an "
                                           f"{ERA_NAMES[era]} line", None)]
    try:
        code = parse_code(text, system)
    except InvalidCodeError as exc:
        if _in_code_set(text, DIAGNOSIS_SYSTEMS[other_era]):
            return text, mismatch
        return text, [(0, "edit", "invalid_code", None),
                      (0, "note", f"diagnosis {text!r} is not an {ERA_NAMES[era]} code ({exc.problem})", None)]
    codes = code_set(system)
    if not codes.defined(code):
        if _in_code_set(text, DIAGNOSIS_SYSTEMS[other_era]):
            return text, mismatch
        return text, [(0, "edit", "undefined_code", None),
                      (0, "note", f"diagnosis {text} is not in the {codes.release} code set", None)]
    findings: list[Finding] = []
    if not codes.billable(code):
        findings += [(0, "edit", "non_billable_code", None),
                     (0, "note", f"diagnosis {text} is truncated (it has more specific codes)", None)]
    for hit in policy.lookup(code, era=era):  # type: ignore[arg-type]
        if hit.group.system != system:
            continue
        seq = ranks[(hit.entry.range.lo, hit.entry.range.hi)]
        if hit.match == "partial":
            findings += [(seq, "edit", "partial_match", None),
                         (seq, "note", f"diagnosis {text} only partly overlaps {hit.entry.range}", None)]
        elif hit.group.coverage == "not_covered":
            findings.append((seq, "nc", str(hit.entry.range), hit.entry.label()))
        elif hit.group.coverage in COVERED:
            findings.append((seq, "cov", None, None))
    return text, findings


def _python_findings(pairs: Iterable[tuple[str, str]], policy: Policy) -> pl.DataFrame:
    """The findings of values that need the full parser (any not spelled as in the code set)."""
    ranks = {era: {(lo, hi): seq for lo, hi, seq in _range_table(policy, era).select("r_lo", "r_hi", "r_seq")
                   .iter_rows()} for era in ERAS}
    rows = [(raw, era, text, *finding) for raw, era in pairs
            for text, findings in [_diagnosis(raw, era, policy, ranks[era])] for finding in findings]
    return pl.DataFrame(rows, schema=FINDINGS_SCHEMA, orient="row")


def _set_findings(values: pl.DataFrame, era: str, policy: Policy) -> tuple[pl.DataFrame, pl.Series]:
    """The findings of values spelled as a defined code of the era's code set, by joins, and which
    values those were.  Gives exactly what ``_diagnosis`` gives for them (a test holds the two together)."""
    codes = values.join(code_set(DIAGNOSIS_SYSTEMS[era]).spellings, left_on="__spelling", right_on="spelling")
    hits = codes.join_where(_range_table(policy, era), pl.col("lo") <= pl.col("r_hi"), pl.col("hi") >= pl.col("r_lo"))
    partial = ~((pl.col("lo") >= pl.col("r_lo")) & (pl.col("hi") <= pl.col("r_hi")))
    not_covered = pl.col("r_coverage") == "not_covered"
    truncated = codes.filter(~pl.col("billable")).with_columns(r_seq=pl.lit(0, pl.Int32))
    text = pl.col("__dx_text")

    def rows(frame: pl.DataFrame, kind: pl.Expr, item: pl.Expr, label: pl.Expr | None = None) -> pl.DataFrame:
        return frame.select("__dx", "__era", "__dx_text", __seq="r_seq", __kind=kind, __item=item,
                            __label=pl.lit(None) if label is None else label).cast(FINDINGS_SCHEMA)

    findings = pl.concat([
        rows(truncated, pl.lit("edit"), pl.lit("non_billable_code")),
        rows(truncated, pl.lit("note"), pl.format("diagnosis {} is truncated (it has more specific codes)", text)),
        rows(hits.filter(partial | not_covered | pl.col("r_coverage").is_in(list(COVERED))),
             pl.when(partial).then(pl.lit("edit")).when(not_covered).then(pl.lit("nc")).otherwise(pl.lit("cov")),
             pl.when(partial).then(pl.lit("partial_match")).when(not_covered).then("r_range"),
             pl.when(~partial & not_covered).then("r_label")),
        rows(hits.filter(partial), pl.lit("note"), pl.format("diagnosis {} only partly overlaps {}", text, "r_range")),
    ])
    return findings, codes["__dx"]


def classify_diagnoses(pairs: pl.DataFrame, policy: Policy) -> pl.DataFrame:
    """The findings (``FINDINGS_SCHEMA``) of each distinct (diagnosis value, era) of ``pairs``
    (columns ``__dx``, ``__era``): edits, notes, the not-covered ranges it lies in, covered hits.

    Values spelled as a code of the era's code set (nearly all of them) are classified by joins
    against the code set and the policy's ranges; the rest go through the full parser one by one.
    """
    tables = [pl.DataFrame(schema=FINDINGS_SCHEMA)]
    for era in ERAS:
        values = pairs.filter(pl.col("__era") == era).select("__dx").unique()
        if values.height == 0:
            continue
        values = values.with_columns(__era=pl.lit(era), __dx_text=pl.col("__dx").str.strip_chars()).with_columns(
            __spelling=pl.col("__dx_text").str.to_uppercase())
        known, classified = _set_findings(values, era, policy)
        rest = values.filter(~pl.col("__dx").is_in(classified.implode()))
        tables += [known, _python_findings(rest.select("__dx", "__era").iter_rows(), policy)]
    return pl.concat(tables, how="vertical")
