"""Classifying the distinct codes of a screen, once each, through the policy's index.

Claim volumes are huge and the code domain is tiny, so every distinct procedure
value and every distinct (diagnosis value, era, release) is classified here once (values
spelled as in the code set vectorized, odd spellings through the parser), and polars
carries the answers to the rows.  The edits:

- ``invalid_code``: not a code of its system;
- ``undefined_code``: a valid form, not in the release of the code set in force on the line's date
  (the note says whether another release defines it);
- ``non_billable_code``: truncated, it has children in that release;
- ``partial_match``: its leaf span only overlaps a policy range;
- ``icd_version_mismatch``: a diagnosis of the other ICD version than the line's;
- ``addon_without_primary``, ``invalid_date``, ``invalid_icd_version`` (line and claim
  edits, see determination).
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import suppress

import polars as pl

from codeindex.code import Code
from codeindex.codesets import CodeSet, code_set, defined_in, releases
from codeindex.errors import InvalidCodeError
from codeindex.policy.compiled import CompiledPolicy
from codeindex.policy.model import DIAGNOSIS_SYSTEMS, ERA_NAMES
from codeindex.screen.columns import DIAGNOSIS, ERAS, PROCEDURE, RANGE_SEPARATOR
from codeindex.systems import WHITESPACE, hcpcs, parse_code

COVERED = ("covered", "covered_if_criteria_met")
# The notes' wording, shared by the parser path (str.format) and the vectorized path (pl.format).
TRUNCATED = "diagnosis {} is truncated: it is not billable in {} (it has more specific codes)"
PARTLY = "diagnosis {} only partly overlaps {}"
MISMATCH = "diagnosis {} is an {} code on an {} line"
UNKNOWN_VERSION = ("The date of service cannot be read and the line has no readable ICD version, so the policy "
                   "version that applies is unknown: review it")
Finding = tuple[int, str, str | None, str | None]  # (rank of the range, 0 for the code; kind; item; label)


def procedure_label(short: str) -> str:
    return f"{'CPT' if short[0].isdigit() else 'HCPCS'} {short}"


def _procedure_says(value: str | None, era: str | None, code: str | None, error: str | None,
                    modifiers: tuple[str, ...], entries: dict[str, dict[str, object]],
                    policy: CompiledPolicy) -> dict[str, object]:
    """What one procedure value says on a line of ``era`` (``PROCEDURE``); ``entries`` maps each era to the
    first entry of the policy holding the code (a row of ``PROCEDURE_RANGES``), or, for a value that cannot
    be read, holding the code its first five characters spell."""
    entry = entries.get(era) if era else None
    said: dict[str, object] = {"procedure": value, "era": era, "code": code, "error": error,
                               "modifiers": ", ".join(modifiers) or None, "coverage": None, "range": None,
                               "add_on": None, "primary": None, "rule": "fixed", "determination": "not_applicable"}
    if error is not None:
        if entries:  # 97545-G, 97545.0: unreadable, but its code part is the policy's: never silently passed
            part = procedure_label(str(next(iter(entries.values()))["code"]))
            return said | {"determination": "review", "head": f"Procedure code '{value or ''}' cannot be read "
                           f"({error}), but it starts with {part}, which {policy.name()} names: review it"}
        return said | {"head": f"Procedure code '{value or ''}' cannot be read ({error}), so the line was not screened"}
    label = procedure_label(code or "")
    if era is None:
        # An add-on in every era, with one primary: its claim is checked for the primary whatever the era.
        add_ons = {(e["add_on"], e["primary"]) for e in entries.values()}
        if len(entries) == len(ERAS) and len(add_ons) == 1 and next(iter(add_ons))[0]:
            said |= {"add_on": True, "primary": next(iter(add_ons))[1]}
        return said | {"determination": "review" if entries else "not_applicable", "head": UNKNOWN_VERSION}
    if entry is None:
        head = (f"{label} is not named by {policy.version_name(era)}, the version for this line's date of service"
                if entries else f"{label} is not named by {policy.name()}")
        return said | {"head": head}
    coverage, version = entry["coverage"], policy.version_name(era)
    procedure = f"{label} ({entry['description']})"
    said |= {"coverage": coverage, "range": entry["range"], "add_on": entry["add_on"], "primary": entry["primary"]}
    if coverage == "not_covered":
        return said | {"rule": "not_covered", "determination": "not_covered",
                       "head": f"{procedure} is not covered by {version}; "}
    if coverage == "covered_if_criteria_met":
        return said | {"rule": "criteria", "determination": None,
                       "head": f"{procedure} is covered by {version} only if its criteria are met; "}
    if coverage == "covered":
        return said | {"determination": "covered", "head": f"{procedure} is covered by {version}"}
    return said | {"head": f"{procedure} is listed by {version} among the codes related to the policy, which "
                           "makes no coverage determination for them, so it does not decide this line"}


def procedure_code(value: str) -> tuple[Code, tuple[str, ...]]:
    """A procedure value read as its code and the modifiers written after it ("97545-GP-59": 97545, GP and 59;
    none for a code alone); raises InvalidCodeError, naming the whole value, for anything else."""
    try:
        return parse_code(value, "hcpcs"), ()
    except InvalidCodeError:
        split = hcpcs.split_modifiers(value.strip(WHITESPACE))
        if split is None:
            raise
        code, modifiers = split
    return parse_code(code, "hcpcs"), modifiers


def classify_procedures(values: Iterable[str | None], policy: CompiledPolicy) -> pl.DataFrame:
    """What each distinct procedure value says on lines of each era, and of no era (``PROCEDURE``)."""
    ranges = policy.procedures.sort("seq")
    rows = []
    for value in values:
        code = error = parsed = None
        modifiers: tuple[str, ...] = ()
        try:
            parsed, modifiers = procedure_code(value if value is not None else "")
            code = parsed.short
        except InvalidCodeError as exc:
            error = exc.problem if value not in (None, "") else "the procedure code is empty"
            with suppress(InvalidCodeError):  # the code its first five characters spell, if any
                parsed = parse_code(value.strip(WHITESPACE)[:5], "hcpcs") if value else None
        entries: dict[str, dict[str, object]] = {}
        if parsed is not None:
            holding = ranges.filter(pl.col("lo") <= parsed.lo, pl.col("hi") >= parsed.hi)
            for entry in holding.iter_rows(named=True):
                entries.setdefault(entry["era"], entry | {"code": parsed.short})
        rows += [_procedure_says(value, era, code, error, modifiers, entries, policy) for era in (*ERAS, None)]
    return pl.DataFrame(rows, schema=PROCEDURE)


def nonempty(text: pl.Expr) -> pl.Expr:
    """The text, or null when it is empty (so ``concat_str(..., ignore_nulls=True)`` skips it)."""
    return pl.when(text != "").then(text)


def _in_code_set(text: str, system: str) -> bool:
    try:
        return code_set(system).defined(parse_code(text, system))
    except InvalidCodeError:
        return False


def newest(era: str) -> int:
    """The newest release of an era's diagnosis code set (for lines whose date is unknown)."""
    return len(releases(DIAGNOSIS_SYSTEMS[era])) - 1


def _undefined(text: str, code: Code, codes: CodeSet) -> str:
    """The note on a code its line's release does not define: whether other releases do."""
    elsewhere, label = defined_in(codes.system, code), codes.release.system_label
    span = " to ".join(dict.fromkeys((elsewhere[0].name, elsewhere[-1].name))) if elsewhere else ""
    known = f"it is in {label} {span}" if elsewhere else f"no {label} release has it"
    return f"diagnosis {text} is not in {codes.release.in_force} ({known})"


def _findings(text: str, era: str, release: int, policy: CompiledPolicy,
              ranks: dict[tuple[int, int], int]) -> list[Finding]:
    """What one trimmed diagnosis value on a line of ``era`` dated in ``release`` (an index of the era's code
    set releases) says, finding by finding, through the parser; ``ranks`` gives the rank of each of the era's
    ranges by its keys.  A finding's kind is ``edit``, ``note`` (a sentence), ``nc`` (the value lies in the
    not-covered range ``item``) or ``cov``."""
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
    codes = code_set(system, release=releases(system)[release].name)
    if not codes.defined(code):
        if _in_code_set(text, DIAGNOSIS_SYSTEMS[other_era]):
            return mismatch
        return [(0, "edit", "undefined_code", None), (0, "note", _undefined(text, code, codes), None)]
    code = codes.code(code)  # its span in the release
    findings: list[Finding] = []
    if not codes.billable(code):
        findings += [(0, "edit", "non_billable_code", None),
                     (0, "note", TRUNCATED.format(text, codes.release.in_force), None)]
    for hit in policy.policy.lookup(code, era=era):  # type: ignore[arg-type]  # the interval index
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


def _parsed(values: Iterable[tuple[str, str, int]], policy: CompiledPolicy) -> pl.DataFrame:
    """What (value, era, release) say (``DIAGNOSIS``) through the full parser: for values not spelled as in
    the code set (and, in the tests, to hold the vectorized path to)."""
    ranks = {era: {(lo, hi): rank for lo, hi, rank in policy.diagnosis_ranges(era).select("lo", "hi", "rank")
                   .iter_rows()} for era in ERAS}
    rows = []
    for raw, era, release in values:
        text = raw.strip(WHITESPACE)  # as polars' strip_chars trims
        if not text:
            continue
        findings = _findings(text, era, release, policy, ranks[era])
        if not findings:
            continue
        items = {kind: [item for _, k, item, _ in findings if k == kind and item is not None]
                 for kind in ("nc", "edit", "note")}
        labels = [label for _, kind, _, label in findings if kind == "nc"]
        covered = any(kind == "cov" for _, kind, _, _ in findings)
        rows.append((raw, era, release, text, bool(labels), RANGE_SEPARATOR.join(items["nc"]) or None,
                     labels[0] if labels else None, covered,
                     ",".join(dict.fromkeys(items["edit"])) or None, "; ".join(items["note"]) or None))
    return pl.DataFrame(rows, schema=DIAGNOSIS, orient="row")


def _spelled_in(spellings: pl.Series, values: pl.Series) -> tuple[pl.Series, pl.Series]:
    """Where each value would sit in the sorted ``spellings``, and whether it is there."""
    at = spellings.search_sorted(values).clip(upper_bound=spellings.len() - 1)
    return at, (spellings.gather(at) == values).fill_null(False)


def _defined_codes_say(defined: pl.DataFrame, era: str, codes: CodeSet, policy: CompiledPolicy) -> pl.DataFrame:
    """What values spelled as defined codes of the era's code set say (``defined``: ``value``, ``text`` and the
    code's ``lo``, ``hi``, ``billable``): whether they are truncated, and the policy ranges they lie in or only
    partly overlap, by a range join."""
    text = pl.col("text")
    ranges = policy.diagnosis_ranges(era).lazy().select(
        r_lo="lo", r_hi="hi", r_coverage="coverage", r_range="range", r_label="label", r_rank="rank")
    partial = ~((pl.col("lo") >= pl.col("r_lo")) & (pl.col("hi") <= pl.col("r_hi")))
    not_covered = ~partial & (pl.col("r_coverage") == "not_covered")
    hits = (defined.lazy().join_where(ranges, pl.col("lo") <= pl.col("r_hi"), pl.col("hi") >= pl.col("r_lo"))
            .sort("r_rank", maintain_order=True).group_by("value").agg(
                nc=pl.col("r_range").filter(not_covered), label=pl.col("r_label").filter(not_covered).first(),
                covered=(~partial & pl.col("r_coverage").is_in(list(COVERED))).any(),
                partly=pl.format(PARTLY, text, "r_range").filter(partial)))
    truncated, partly = ~pl.col("billable"), pl.col("partly").list.len() > 0
    in_not_covered = pl.col("nc").list.len() > 0
    edits = pl.concat_str(pl.when(truncated).then(pl.lit("non_billable_code")),
                          pl.when(partly).then(pl.lit("partial_match")), separator=",", ignore_nulls=True)
    notes = pl.concat_str(pl.when(truncated).then(pl.format(TRUNCATED, text, pl.lit(codes.release.in_force))),
                          pl.when(partly).then(pl.col("partly").list.join("; ")), separator="; ", ignore_nulls=True)
    said = defined.lazy().join(hits, on="value", how="left").select(
        "value", era=pl.lit(era), release=pl.lit(codes.release.index, pl.UInt8), text=text,
        not_covered=in_not_covered.fill_null(False),
        ranges=pl.when(in_not_covered).then(pl.col("nc").list.join(RANGE_SEPARATOR)), label="label",
        covered=pl.col("covered").fill_null(False), edits=nonempty(edits), notes=nonempty(notes))
    says = pl.col("not_covered") | pl.col("covered") | pl.col("edits").is_not_null()
    return said.filter(says).collect(engine="in-memory")


def _by_spelling(values: pl.DataFrame, era: str, release: int,
                 policy: CompiledPolicy) -> tuple[pl.DataFrame, pl.DataFrame]:
    """What the values spelled as a defined code of the era's code set in ``release`` (or of the other era's
    newest) say, vectorized, and the values that are not so spelled.  ``values`` has ``value``, ``text``
    (trimmed) and ``spelling`` (trimmed, upper case).  Gives exactly what ``_parsed`` gives for those values
    (a test holds the two together)."""
    other_era = ERAS[1 - ERAS.index(era)]
    system = DIAGNOSIS_SYSTEMS[era]
    code_set_then = code_set(system, release=releases(system)[release].name)
    codes = code_set_then.spellings  # sorted: a binary search is cheaper than a join
    at, spelled = _spelled_in(codes["spelling"], values["spelling"])
    defined = pl.concat([values.select("value", "text"), codes.select("lo", "hi", "billable")[at]],
                        how="horizontal").filter(spelled)
    rest = values.filter(~spelled)  # a code of the other era's code set is a mismatch; the rest need the parser
    _, elsewhere = _spelled_in(code_set(DIAGNOSIS_SYSTEMS[other_era]).spellings["spelling"], rest["spelling"])
    mismatched = rest.filter(elsewhere).select(
        "value", era=pl.lit(era), release=pl.lit(release, pl.UInt8), text="text", not_covered=pl.lit(False),
        covered=pl.lit(False),
        edits=pl.lit("icd_version_mismatch"),
        notes=pl.format(MISMATCH, "text", pl.lit(ERA_NAMES[other_era]), pl.lit(ERA_NAMES[era])))
    said = pl.concat([_defined_codes_say(defined, era, code_set_then, policy), mismatched], how="diagonal_relaxed")
    return said.select(DIAGNOSIS.keys()).cast(DIAGNOSIS), rest.filter(~elsewhere)  # type: ignore[arg-type]


def classify_diagnoses(values: pl.Series, policy: CompiledPolicy,
                       contexts: Iterable[tuple[str, int]] | None = None) -> pl.DataFrame:
    """What each distinct diagnosis value says on a line of each of ``contexts``, (era, release of the era's
    code set in force on the line's date), each era's newest release when None (``DIAGNOSIS``): a row for
    each (value, era, release) with an edit, a note, a not-covered or a covered range.

    Values spelled as a code of either era's code set (nearly all of them) are classified vectorized,
    by a binary search in the code sets and a join against the policy's ranges; the rest go through the
    full parser one by one.  A blank value is no diagnosis and says nothing.
    """
    tables = [pl.DataFrame(schema=DIAGNOSIS)]
    distinct = (pl.DataFrame({"value": values}, schema={"value": pl.String}).unique()
                .with_columns(text=pl.col("value").str.strip_chars())
                .filter(pl.col("text") != "")  # only printable ASCII can be a code's spelling (see parse_code)
                .with_columns(spelling=pl.when(pl.col("text").str.contains(r"^[ -~]*$"))
                              .then(pl.col("text").str.to_uppercase())))
    for era, release in [(era, newest(era)) for era in ERAS] if contexts is None else contexts:
        known, rest = _by_spelling(distinct, era, release, policy)
        tables += [known, _parsed(rest.select("value", era=pl.lit(era), release=pl.lit(release)).iter_rows(), policy)]
    return pl.concat(tables, how="vertical")
