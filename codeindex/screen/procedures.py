"""What each distinct procedure value of a screen says, against every policy of the library, once.

A value is read as a CPT/HCPCS code (modifiers written after it split off), and every entry of every
policy holding the code is found by one range join; a value gets one row per policy naming it and
era (``PROCEDURE``): its coverage, range, add-on and primary, the rule by which its line's diagnoses
decide, and the first part of the reason.  A value that cannot be read is screened too: its line gets
``invalid_code``, and ``review`` when its first five characters spell a code the policy names.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import suppress

import polars as pl

from codeindex.code import Code
from codeindex.errors import InvalidCodeError
from codeindex.policy.compiled import CompiledPolicies
from codeindex.policy.model import ERA_NAMES
from codeindex.screen.columns import ERAS, PROCEDURE
from codeindex.systems import WHITESPACE, hcpcs, parse_code

UNKNOWN_VERSION = ("The date of service cannot be read and the line has no readable ICD version, so the policy "
                   "version that applies is unknown: review it")


def procedure_label(short: str) -> str:
    """How a reason names a procedure code: ``CPT`` before a code that starts with a digit, ``HCPCS`` before a
    Level II code; ``procedure_labels`` names a column of codes the same way.

    >>> codes = ["97545", "G0283"]
    >>> [procedure_label(code) for code in codes]
    ['CPT 97545', 'HCPCS G0283']
    >>> pl.select(procedure_labels(pl.lit(pl.Series(codes)))).to_series().to_list()
    ['CPT 97545', 'HCPCS G0283']
    """
    return f"{'CPT' if short[0].isdigit() else 'HCPCS'} {short}"


def procedure_labels(codes: pl.Expr) -> pl.Expr:
    """``procedure_label`` of each code of a column of short forms."""
    return pl.when(codes.str.slice(0, 1).str.contains(r"\d")).then(pl.lit("CPT ")).otherwise(pl.lit("HCPCS ")) + codes


def _procedure_row(value: str | None, era: str | None, code: str | None, error: str | None,
                    modifiers: tuple[str, ...], entries: dict[str, dict[str, object]], policy: int | None,
                    library: CompiledPolicies) -> dict[str, object]:
    """What one procedure value says on a line of ``era`` by ``policy`` (``PROCEDURE``); ``entries`` maps each
    era to the first entry of the policy holding the code (a row of ``PROCEDURE_RANGES``), or, for a value that
    cannot be read, holding the code its first five characters spell.  ``policy`` None: no policy names it."""
    entry = entries.get(era) if era else None
    row: dict[str, object] = {"procedure": value, "era": era, "policy": policy, "names": bool(entries),
                               "code": code, "error": error,
                               "modifiers": ", ".join(modifiers) or None, "coverage": None, "range": None,
                               "add_on": None, "primary": None, "rule": "fixed", "determination": "not_applicable",
                               "exhaustive": False, "rule_id": None}
    if error is not None:
        if entries:  # 97545-G, 97545.0: unreadable, but its code part is the policy's: never silently passed
            part = procedure_label(str(next(iter(entries.values()))["code"]))
            return row | {"determination": "review", "head": f"Procedure code '{value or ''}' cannot be read "
                           f"({error}), but it starts with {part}, which {library.name(policy)} names: review it"}
        return row | {"head": f"Procedure code '{value or ''}' cannot be read ({error}), so the line was not screened"}
    label = procedure_label(code or "")
    if era is None:
        # An add-on in every era, with one primary: its claim is checked for the primary whatever the era.
        add_ons = {(e["add_on"], e["primary"]) for e in entries.values()}
        if len(entries) == len(ERAS) and len(add_ons) == 1 and next(iter(add_ons))[0]:
            row |= {"add_on": True, "primary": next(iter(add_ons))[1]}
        return row | {"determination": "review" if entries else "not_applicable", "head": UNKNOWN_VERSION}
    if entry is None or policy is None:
        if entries and policy is not None and library.policies[policy].version(era) is None:  # type: ignore[arg-type]
            head = (f"{label} is named only in the {' and '.join(ERA_NAMES[e] for e in entries)} version of "
                    f"{library.name(policy)}, which has no {ERA_NAMES[era]} version for this line's date of service")
        elif entries and policy is not None:
            head = (f"{label} is not named by {library.version_name(policy, era)}, the version for this line's "
                    "date of service")
        else:
            head = f"{label} is not named by {library.name(policy)}"
        return row | {"head": head}
    coverage, version = entry["coverage"], library.version_name(policy, era)
    procedure = f"{label} ({entry['description']})" if entry["description"] else label
    row |= {"coverage": coverage, "range": entry["range"], "add_on": entry["add_on"], "primary": entry["primary"],
            "exhaustive": library.exhaustive(policy, era), "rule_id": entry["rule_id"]}
    if coverage == "not_covered":
        return row | {"rule": "not_covered", "determination": "not_covered",
                       "head": f"{procedure} is not covered by {version}"}
    if coverage == "covered_if_criteria_met":
        return row | {"rule": "criteria", "determination": None,
                       "head": f"{procedure} is covered by {version} only if its criteria are met"}
    if coverage == "covered":
        return row | {"rule": "covered", "determination": None, "head": f"{procedure} is covered by {version}"}
    return row | {"head": f"{procedure} is listed by {version} among the codes related to the policy, which "
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


def classify_procedures(values: Iterable[str | None], library: CompiledPolicies) -> pl.DataFrame:
    """What each distinct procedure value says on lines of each era, and of no era, in each epoch of the library's
    revisions (``PROCEDURE``): a row per policy in force naming it in some era, in the library's order, or rows of
    no policy when none does.  With one
    policy, that policy speaks for every value (a value it does not name is "not named by" it)."""
    read = []  # each value: (value, code, error, modifiers, the code read or spelled by its first five characters)
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
        read.append((value, code, error, modifiers, parsed))
    # Every entry of every policy holding each code, by one range join, in the library's order.
    codes = pl.DataFrame([(i, p.lo, p.hi) for i, (*_, p) in enumerate(read) if p is not None],
                         schema={"i": pl.Int64, "c_lo": pl.Int64, "c_hi": pl.Int64}, orient="row")
    holding = codes.join_where(library.procedures, pl.col("lo") <= pl.col("c_lo"), pl.col("hi") >= pl.col("c_hi"))
    entries_of: dict[int, list[dict[str, object]]] = {}
    for entry in holding.sort("i", "seq").iter_rows(named=True):
        entries_of.setdefault(entry["i"], []).append(entry)
    rows = []
    in_force = [library.policies_in_force(epoch) for epoch in range(library.epochs)]
    for i, (value, code, error, modifiers, parsed) in enumerate(read):
        by_policy: dict[int, dict[str, dict[str, object]]] = {}
        for entry in entries_of.get(i, []):
            assert parsed is not None
            policy, era = int(entry["policy"]), str(entry["era"])  # type: ignore[call-overload]
            by_policy.setdefault(policy, {}).setdefault(era, entry | {"code": parsed.short})
        for epoch, policies in enumerate(in_force):  # one epoch unless the library holds revisions of a policy
            naming: list[int | None] = [p for p in sorted(by_policy) if p in policies] or [library.lone_at(epoch)]
            for policy in naming:
                entries = by_policy.get(policy, {}) if policy is not None else {}
                rows += [_procedure_row(value, era, code, error, modifiers, entries, policy, library) | {"epoch": epoch}
                         for era in (*ERAS, None)]
    return pl.DataFrame(rows, schema=PROCEDURE)
