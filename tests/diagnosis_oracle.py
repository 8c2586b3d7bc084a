"""What diagnosis values say, worked out value by value through the parser and each policy's interval index:
the oracle the screen's vectorized classification (code-set spellings, one range join for a whole library)
is held to."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from functools import cache

import polars as pl

from codeindex.codesets import code_set, releases
from codeindex.policy.compiled import CompiledPolicies
from codeindex.policy.model import DIAGNOSIS_SYSTEMS
from codeindex.screen.columns import DIAGNOSIS, ITEM_SEPARATOR, RANGE_SEPARATOR
from codeindex.screen.diagnoses import COVERED, PARTLY, code_findings
from codeindex.systems import WHITESPACE


@cache
def _billable_keys(era: str, release: int) -> list[int]:
    system = DIAGNOSIS_SYSTEMS[era]
    return sorted(code_set(system, release=releases(system)[release].name).table["lo"].to_list())


def _bills_between(era: str, release: int, lo: int, hi: int) -> bool:
    """Whether the release bills a code whose key lies in [lo, hi] (by bisection in its billable keys)."""
    keys = _billable_keys(era, release)
    at = bisect_left(keys, lo)
    return at < len(keys) and keys[at] <= hi


def said_through_index(values: Iterable[tuple[str, str, int]], library: CompiledPolicies) -> pl.DataFrame:
    """What each (value, era, release) says under each policy of the library (``DIAGNOSIS``): its own edits
    (``diagnoses.code_findings``), then, in range order, the policy's ranges its span lies in or partly overlaps,
    by ``Policy.lookup``."""
    rows = []
    for raw, era, release in values:
        text = raw.strip(WHITESPACE)  # as polars' strip_chars trims
        if not text:
            continue
        code, own_edits, own_notes = code_findings(text, era, release)
        for number, policy in enumerate(library.policies):
            edits, notes, not_covered, labels, covered = list(own_edits), list(own_notes), [], [], False
            hits = policy.lookup(code, era=era) if code is not None else []  # type: ignore[arg-type]
            for hit in hits:
                if hit.group.system != DIAGNOSIS_SYSTEMS[era]:
                    continue
                if hit.match == "partial" and not _bills_between(era, release, max(code.lo, hit.entry.range.lo),
                                                                 min(code.hi, hit.entry.range.hi)):
                    continue  # keys overlap, but no code of the line's release lies in both: no match
                if hit.match == "partial":
                    edits.append("partial_match")
                    notes.append(PARTLY.format(text, hit.entry.range))
                elif hit.group.coverage == "not_covered":
                    not_covered.append(str(hit.entry.range))
                    labels.append(hit.entry.label())
                elif hit.group.coverage in COVERED:
                    covered = True
            if not (edits or not_covered or covered):
                continue
            rows.append((raw, era, release, number, text, bool(not_covered),
                         RANGE_SEPARATOR.join(not_covered) or None, labels[0] if labels else None, covered,
                         ",".join(dict.fromkeys(edits)) or None, ITEM_SEPARATOR.join(notes) or None))
    return pl.DataFrame(rows, schema=DIAGNOSIS, orient="row")
