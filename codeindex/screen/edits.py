"""Classifying the distinct codes of a screen, once each, through the policy's index.

Claim volumes are huge and the code domain is tiny, so every distinct procedure
value and every distinct (diagnosis value, era) pair is classified here once (values
spelled as in the code set vectorized, odd spellings through the parser), and polars
carries the answers to the rows.  The edits:

- ``invalid_code``: not a code of its system;
- ``undefined_code``: a valid form, not in the official code set;
- ``non_billable_code``: truncated, it has children in the code set;
- ``partial_match``: its leaf span only overlaps a policy range;
- ``icd_version_mismatch``: a diagnosis of the other ICD version than the line's;
- ``addon_without_primary``, ``invalid_date``, ``invalid_icd_version`` (line and claim
  edits, see determination).
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
    "__dx": pl.String, "__era": pl.String, "__dx_text": pl.String, "__nc_dx": pl.String, "__ranges": pl.String,
    "__label": pl.String, "__cov_dx": pl.String, "__edits": pl.String, "__notes": pl.String,
}
"""What a diagnosis value says on a line of its era, in one row: ``__dx_text`` the value trimmed;
``__nc_dx`` that text when it lies in a not-covered range, ``__ranges`` those ranges in policy order (joined by
``RANGE_SEPARATOR``), ``__label`` the first one's label; ``__cov_dx`` the text when it lies in a covered range;
``__edits`` its edits (comma-joined) and ``__notes`` the sentences the reason gives for them ("; "-joined).
A value with nothing to say has no row: most values, so a line's lists are built from few rows."""
RANGE_SEPARATOR = "\x1f"
# The notes' wording, shared by the parser path (str.format) and the vectorized path (pl.format).
TRUNCATED = "diagnosis {} is truncated (it has more specific codes)"
PARTLY = "diagnosis {} only partly overlaps {}"
MISMATCH = "diagnosis {} is an {} code on an {} line"
Finding = tuple[int, str, str | None, str | None]  # (rank of the range, 0 for the code; kind; item; label)


def nonempty(text: pl.Expr) -> pl.Expr:
    """The text, or null when it is empty (so ``concat_str(..., ignore_nulls=True)`` skips it)."""
    return pl.when(text != "").then(text)


def _in_code_set(text: str, system: str) -> bool:
    try:
        return code_set(system).defined(parse_code(text, system))
    except InvalidCodeError:
        return False


def _range_table(policy: Policy, era: str) -> pl.DataFrame:
    """The diagnosis entries of one era's version: keys, coverage, range text, label, and ``r_seq``, the
    rank of the range by its keys (the order a value's ranges are given in)."""
    version = policy.version(era)  # type: ignore[arg-type]
    rows = [] if version is None else [
        (e.range.lo, e.range.hi, g.coverage, str(e.range), e.label())
        for g in version.groups if g.system == version.diagnosis_system for e in g.entries]
    rank = {pair: i for i, pair in enumerate(sorted({(lo, hi) for lo, hi, *_ in rows}), start=1)}
    return pl.DataFrame([(*row, rank[row[:2]]) for row in rows], orient="row", schema={
        "r_lo": pl.Int64, "r_hi": pl.Int64, "r_coverage": pl.String, "r_range": pl.String, "r_label": pl.String,
        "r_seq": pl.Int32})


def _findings(text: str, era: str, policy: Policy, ranks: dict[tuple[int, int], int]) -> list[Finding]:
    """What one trimmed diagnosis value on a line of ``era`` says, finding by finding, through the parser;
    ``ranks`` gives the rank of each of the era's ranges by its keys.  A finding's kind is ``edit``,
    ``note`` (a sentence), ``nc`` (the value lies in the not-covered range ``item``) or ``cov``."""
    system, other_era = DIAGNOSIS_SYSTEMS[era], ERAS[1 - ERAS.index(era)]
    mismatch: list[Finding] = [(0, "edit", "icd_version_mismatch", None),
                               (0, "note", MISMATCH.format(text, ERA_NAMES[other_era], ERA_NAMES[era]), None)]
    try:
        code = parse_code(text, system)
    except InvalidCodeError as exc:
        if _in_code_set(text, DIAGNOSIS_SYSTEMS[other_era]):
            return mismatch
        return [(0, "edit", "invalid_code", None),
                (0, "note", f"diagnosis {text!r} is not an {ERA_NAMES[era]} code ({exc.problem})", None)]
    codes = code_set(system)
    if not codes.defined(code):
        if _in_code_set(text, DIAGNOSIS_SYSTEMS[other_era]):
            return mismatch
        return [(0, "edit", "undefined_code", None),
                (0, "note", f"diagnosis {text} is not in the {codes.release} code set", None)]
    findings: list[Finding] = []
    if not codes.billable(code):
        findings += [(0, "edit", "non_billable_code", None),
                     (0, "note", TRUNCATED.format(text), None)]
    for hit in policy.lookup(code, era=era):  # type: ignore[arg-type]
        if hit.group.system != system:
            continue
        seq = ranks[(hit.entry.range.lo, hit.entry.range.hi)]
        if hit.match == "partial":
            findings += [(seq, "edit", "partial_match", None),
                         (seq, "note", PARTLY.format(text, hit.entry.range), None)]
        elif hit.group.coverage == "not_covered":
            findings.append((seq, "nc", str(hit.entry.range), hit.entry.label()))
        elif hit.group.coverage in COVERED:
            findings.append((seq, "cov", None, None))
    return sorted(findings, key=lambda finding: finding[0])


def _parsed(pairs: Iterable[tuple[str, str]], policy: Policy) -> pl.DataFrame:
    """What values say (``DIAGNOSIS_SCHEMA``) through the full parser: for values not spelled as in the
    code set (and, in the tests, to hold the vectorized path to)."""
    ranks = {era: {(lo, hi): seq for lo, hi, seq in _range_table(policy, era).select("r_lo", "r_hi", "r_seq")
                   .iter_rows()} for era in ERAS}
    rows = []
    for raw, era in pairs:
        text = raw.strip()
        if not text:
            continue
        findings = _findings(text, era, policy, ranks[era])
        if not findings:
            continue
        items = {kind: [item for _, k, item, _ in findings if k == kind] for kind in ("nc", "edit", "note")}
        labels = [label for _, kind, _, label in findings if kind == "nc"]
        cov = any(kind == "cov" for _, kind, _, _ in findings)
        rows.append((raw, era, text, text if labels else None, RANGE_SEPARATOR.join(items["nc"]) or None,
                     labels[0] if labels else None, text if cov else None,
                     ",".join(dict.fromkeys(items["edit"])) or None, "; ".join(items["note"]) or None))
    return pl.DataFrame(rows, schema=DIAGNOSIS_SCHEMA, orient="row")


def _spelled_in(spellings: pl.Series, values: pl.Series) -> tuple[pl.Series, pl.Series]:
    """Where each value would sit in the sorted ``spellings``, and whether it is there."""
    at = spellings.search_sorted(values).clip(upper_bound=spellings.len() - 1)
    return at, (spellings.gather(at) == values).fill_null(False)


def _defined_codes_say(defined: pl.DataFrame, era: str, policy: Policy) -> pl.DataFrame:
    """What values spelled as defined codes of the era's code set say (``defined``: ``__dx``, ``__dx_text``
    and the code's ``lo``, ``hi``, ``billable``): whether they are truncated, and the policy ranges they lie in
    or only partly overlap, by a range join."""
    text = pl.col("__dx_text")
    partial = ~((pl.col("lo") >= pl.col("r_lo")) & (pl.col("hi") <= pl.col("r_hi")))
    not_covered = ~partial & (pl.col("r_coverage") == "not_covered")
    ranges = _range_table(policy, era).lazy()
    hits = (defined.lazy().join_where(ranges, pl.col("lo") <= pl.col("r_hi"), pl.col("hi") >= pl.col("r_lo"))
            .sort("r_seq", maintain_order=True).group_by("__dx").agg(
                __nc=pl.col("r_range").filter(not_covered), __label=pl.col("r_label").filter(not_covered).first(),
                __covered=(~partial & pl.col("r_coverage").is_in(list(COVERED))).any(),
                __partly=pl.format(PARTLY, text, "r_range").filter(partial)))
    truncated, partly = ~pl.col("billable"), pl.col("__partly").list.len() > 0
    in_not_covered = pl.col("__nc").list.len() > 0
    edits = pl.concat_str(pl.when(truncated).then(pl.lit("non_billable_code")),
                          pl.when(partly).then(pl.lit("partial_match")), separator=",", ignore_nulls=True)
    notes = pl.concat_str(pl.when(truncated).then(pl.format(TRUNCATED, text)),
                          pl.when(partly).then(pl.col("__partly").list.join("; ")), separator="; ", ignore_nulls=True)
    said = defined.lazy().join(hits, on="__dx", how="left").select(
        "__dx", __era=pl.lit(era), __dx_text=text, __nc_dx=pl.when(in_not_covered).then(text),
        __ranges=pl.when(in_not_covered).then(pl.col("__nc").list.join(RANGE_SEPARATOR)), __label="__label",
        __cov_dx=pl.when(pl.col("__covered")).then(text), __edits=nonempty(edits), __notes=nonempty(notes))
    says = pl.any_horizontal(pl.col(c).is_not_null() for c in list(DIAGNOSIS_SCHEMA)[3:])
    return said.filter(says).collect(engine="in-memory")


def _by_spelling(values: pl.DataFrame, era: str, policy: Policy) -> tuple[pl.DataFrame, pl.DataFrame]:
    """What the values spelled as a defined code of either era's code set say, vectorized, and the values
    that are not so spelled.  ``values`` has ``__dx``, ``__dx_text`` (trimmed) and ``__spelling`` (trimmed,
    upper case).  Gives exactly what ``_parsed`` gives for those values (a test holds the two together)."""
    other_era = ERAS[1 - ERAS.index(era)]
    codes = code_set(DIAGNOSIS_SYSTEMS[era]).spellings  # sorted: a binary search is cheaper than a join
    at, spelled = _spelled_in(codes["spelling"], values["__spelling"])
    defined = pl.concat([values.select("__dx", "__dx_text"), codes.select("lo", "hi", "billable")[at]],
                        how="horizontal").filter(spelled)
    rest = values.filter(~spelled)  # a code of the other era's code set is a mismatch; the rest need the parser
    _, elsewhere = _spelled_in(code_set(DIAGNOSIS_SYSTEMS[other_era]).spellings["spelling"], rest["__spelling"])
    mismatched = rest.filter(elsewhere).select(
        "__dx", __era=pl.lit(era), __dx_text="__dx_text", __edits=pl.lit("icd_version_mismatch"),
        __notes=pl.format(MISMATCH, "__dx_text", pl.lit(ERA_NAMES[other_era]), pl.lit(ERA_NAMES[era])))
    said = pl.concat([_defined_codes_say(defined, era, policy), mismatched], how="diagonal_relaxed")
    return said.select(DIAGNOSIS_SCHEMA.keys()).cast(DIAGNOSIS_SCHEMA), rest.filter(~elsewhere)


def classify_diagnoses(pairs: pl.DataFrame, policy: Policy) -> pl.DataFrame:
    """What each distinct (diagnosis value, era) of ``pairs`` (columns ``__dx``, ``__era``) says:
    ``DIAGNOSIS_SCHEMA``, a row for each value with an edit, a note, a not-covered or a covered range.

    Values spelled as a code of either era's code set (nearly all of them) are classified vectorized,
    by a binary search in the code sets and a join against the policy's ranges; the rest go through the
    full parser one by one.  A blank value is no diagnosis and says nothing.
    """
    tables = [pl.DataFrame(schema=DIAGNOSIS_SCHEMA)]
    distinct = (pairs.lazy().unique().with_columns(__dx_text=pl.col("__dx").str.strip_chars())
                .filter(pl.col("__dx_text") != "").with_columns(__spelling=pl.col("__dx_text").str.to_uppercase())
                .collect(engine="in-memory"))
    for (era,), values in distinct.partition_by("__era", as_dict=True).items():
        if era in ERAS:
            known, rest = _by_spelling(values, era, policy)
            tables += [known, _parsed(rest.select("__dx", pl.lit(era)).iter_rows(), policy)]
    return pl.concat(tables, how="vertical")
