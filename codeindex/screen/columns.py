"""Every frame the screen builds, and what each of its columns holds, in one place.

A claim line goes: input row -> a row of ``LINE`` (the screened line, under these names, so
the user's own columns never meet the screen's) -> joined with the ``PROCEDURE`` row of its
procedure value and era, and each diagnosis column with the ``DIAGNOSIS`` row of its value
-> a row of ``RESULT``, placed back beside the input row it came from.  The user's columns
are never renamed, dropped or shadowed: only ``RESULT``'s names join them, and those can be
prefixed.
"""

from __future__ import annotations

import polars as pl

from codeindex.policy.compiled import POLICY
from codeindex.policy.reason_codes import GROUP_CODES

ERAS = ("icd9", "icd10")
DETERMINATIONS = ("not_covered", "review", "covered", "not_applicable")

LINE = {  # a screened line, in input order (its diagnoses are read apart, as cells.DiagnosisCodes); line.LineFacts
    "claim": None,  # the claim id, as the input holds it (a NaN id reads as null: no claim); the one not cast
    "procedure": pl.String,  # the procedure value as written
    "era": pl.String,  # icd9 / icd10 from the ICD version, the date of service or the default; null if none
    "release": pl.UInt8,  # the era's code-set release in force on the date (codesets.releases), else its newest
    "date_raw": pl.String,  # the date of service as written (null: no date column, or one of dates, always read)
    "date": pl.Date,  # the date of service read, null when it cannot be read
    "version_raw": pl.String,  # the icd_version as written (null when there is no such column)
    "version_era": pl.String,  # the era that icd_version names, null when blank or unreadable
    "modifier_columns": pl.String,  # the modifiers in the columns named as modifier columns, ", "-joined, or null
    "epoch": pl.UInt16,  # the epoch of the library's revisions its date falls in (the newest when no date is read)
}


PROCEDURE = {  # what one procedure value says on lines of one era (era null: no version could be told) and epoch
    # (of the library's revisions) by one policy
    "procedure": pl.String,  # the value as written (the join key, with era and epoch)
    "era": pl.String,
    "epoch": pl.UInt16,  # the epoch of the library's revisions (compiled.CompiledPolicies.boundaries); 0 without
    "policy": POLICY,  # a policy that names it in some era; null: none does (a value no policy names, read or not)
    "names": pl.Boolean,  # that policy names it (false for the rows of no policy, or of a lone policy that does not)
    "code": pl.String,  # the code read from it (short form), null when it cannot be read
    "error": pl.String,  # why it cannot be read, null when it can
    "modifiers": pl.String,  # the modifiers written after the code ("GP, 59"), null when none
    "coverage": pl.String,  # the coverage of the first entry holding it in the era's version, or null
    "range": pl.String,  # that entry's range as text (matched_procedure_range)
    "add_on": pl.Boolean,  # that entry is an add-on
    "primary": pl.String,  # and its primary's code
    "rule": pl.String,  # how the diagnoses decide: "fixed", "not_covered", "criteria" or "covered" (see explain)
    "exhaustive": pl.Boolean,  # the policy's version of the era has an exhaustive covered list of diagnoses
    "rule_id": pl.String,  # the deciding entry's stable id (compiled.rule_id), null when none decides
    "determination": pl.String,  # the determination when the rule is "fixed" or "not_covered"
    "head": pl.String,  # the reason's first part, up to what the diagnoses add
}

CODE = {  # what one diagnosis value is on lines of one era dated in one release of its code set
    "value": pl.String,  # the value as written (the lookup key, with era and release)
    "era": pl.String,
    "release": pl.UInt8,  # the era's code-set release the value was checked in
    "text": pl.String,  # the value trimmed, as the reason and matched_dx quote it
    "lo": pl.Int64,  # the billable codes beneath it in the release, as keys: its span (null: not a code there)
    "hi": pl.Int64,
    "edits": pl.String,  # its own edits (invalid, undefined, truncated, other version), comma-joined, null if none
    "notes": pl.String,  # the sentences that say why (one per edit), joined by ITEM_SEPARATOR, null if none
}

SPAN = {  # what a code's span in a release says against one policy's version of its era; only spans in some range
    "era": pl.String,
    "release": pl.UInt8,  # the release whose codes an overlap is counted in
    "lo": pl.Int64,
    "hi": pl.Int64,
    "policy": POLICY,
    "not_covered": pl.Boolean,  # it lies in a not-covered range of the policy's version
    "ranges": pl.String,  # those ranges in rank order, joined by RANGE_SEPARATOR (null if none)
    "label": pl.String,  # the first one's label, as the reason quotes it
    "covered": pl.Boolean,  # it lies in a covered (or covered-if-criteria-met) range
    "partly": pl.String,  # the ranges it only partly overlaps, in rank order, joined by RANGE_SEPARATOR (or null)
}

DIAGNOSIS = {  # CODE and SPAN together: what one value says on lines of one era, release and policy
    "value": pl.String,
    "era": pl.String,
    "release": pl.UInt8,
    "policy": POLICY,
    "text": pl.String,
    "not_covered": pl.Boolean,
    "ranges": pl.String,
    "label": pl.String,
    "covered": pl.Boolean,
    "edits": pl.String,  # its edits and partial_match, comma-joined, null if none
    "notes": pl.String,  # their sentences, joined by ITEM_SEPARATOR, null if none
}
RANGE_SEPARATOR = "\x1f"  # never in a range's text
ITEM_SEPARATOR = "\x1e"  # never in a code or a note: joins the items of a list before it becomes one

RESULT = {  # what the screen adds to every input line (its deciding finding); low-cardinality text is categorical
    "policy": pl.Categorical(),
    "policy_version": pl.Enum(list(ERAS)),
    "determination": pl.Enum(DETERMINATIONS),
    "reason": pl.Categorical(),
    "matched_procedure_range": pl.Categorical(),
    "matched_dx": pl.List(pl.String),
    "matched_dx_ranges": pl.List(pl.String),
    "edits": pl.List(pl.String),
    "notes": pl.List(pl.String),  # the sentences behind its diagnoses' edits, which quote the values, in column order
    "rule_id": pl.Categorical(),  # the deciding procedure entry's stable id (compiled.rule_id), null when none names it
    "group_code": pl.Enum(list(GROUP_CODES)),  # a denied line's X12 group code (reason_codes), else null
    "carc": pl.Categorical(),  # its Claim Adjustment Reason Code
    "rarc": pl.Categorical(),  # its Remittance Advice Remark Code, where one applies
}

# One policy's finding on a line: RESULT's fields as plain text (a struct travels to Arrow, Spark and JSON as is),
# and the policy's revision and effective date when its page gives them.
FINDING = pl.Struct({**{name: pl.String if isinstance(dtype, (pl.Enum, pl.Categorical)) else dtype
                        for name, dtype in RESULT.items()}, "policy_revision": pl.String,
                     "policy_effective": pl.Date})
FINDINGS = {"findings": pl.List(FINDING)}  # added when a library is screened: every policy naming the line's procedure
