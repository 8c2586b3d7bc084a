"""The codes a claim system speaks for a determination: an X12 group code, a Claim Adjustment Reason Code (CARC)
and, where one applies, a Remittance Advice Remark Code (RARC).

A line the screen finds ``not_covered`` was denied for one *cause*: its procedure's group is not covered
(``procedure_not_covered``), a diagnosis is in a not-covered list (``diagnosis_not_covered``), or no diagnosis is
in the version's exhaustive covered list (``no_supporting_diagnosis``).  ``data/reason_codes.csv`` maps each
cause to its codes, with what each code says in our own words; a policy's JSON may map a procedure group's
causes to the payer's own codes (``"reason_codes": {"diagnosis_not_covered": {"group_code": "CO", "carc": "50",
"rarc": "N115"}}``).  Lines not denied carry none: nothing is adjusted on a covered line, and a line in review
is not decided yet.  The NCCI edits that deny a line (``NCCI_CAUSES``, ``screen.ncci``) have their codes in the
same table: CO-236 for a procedure-to-procedure pair, CO-151 with N362 for units over a medically unlikely edit,
CO-107 for an add-on without its primary.

>>> codes = reason_codes()
>>> codes["procedure_not_covered"]
ReasonCodes(group_code='CO', carc='96', rarc='N130')
>>> codes["mue_units"]
ReasonCodes(group_code='CO', carc='151', rarc='N362')
>>> sorted(codes)[:3]
['aoc_without_primary', 'diagnosis_not_covered', 'mue_units']
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache

from codeindex.data import data_path

CAUSES = ("procedure_not_covered", "diagnosis_not_covered", "no_supporting_diagnosis")
NCCI_CAUSES = ("ncci_ptp", "mue_units", "aoc_without_primary")  # the NCCI edits that deny a line (screen.ncci)
GROUP_CODES = ("CO", "CR", "OA", "PI", "PR")  # X12 claim adjustment group codes


@dataclass(frozen=True)
class ReasonCodes:
    """One cause's codes: ``group_code`` (CO, CR, OA, PI, PR), ``carc`` and ``rarc`` (None when none applies)."""

    group_code: str
    carc: str
    rarc: str | None = None

    def __post_init__(self) -> None:
        if self.group_code not in GROUP_CODES:
            raise ValueError(f"group code {self.group_code!r} is not one of {', '.join(GROUP_CODES)}")
        if not (self.carc.isalnum() and len(self.carc) <= 5):
            raise ValueError(f"CARC {self.carc!r} is not a code (letters and digits, at most 5)")
        if self.rarc is not None and not (self.rarc.isalnum() and len(self.rarc) <= 5):
            raise ValueError(f"RARC {self.rarc!r} is not a code (letters and digits, at most 5)")


@cache
def reason_codes() -> dict[str, ReasonCodes]:
    """Each cause's codes, as ``data/reason_codes.csv`` gives them."""
    with open(data_path("reason_codes.csv"), newline="", encoding="utf-8") as handle:
        rows = {row["cause"]: ReasonCodes(row["group_code"], row["carc"], row["rarc"] or None)
                for row in csv.DictReader(handle)}
    assert sorted(rows) == sorted(CAUSES + NCCI_CAUSES), rows
    return rows


@cache
def descriptions() -> dict[str, str]:
    """What each CARC and RARC of the table says, in our own words, by code (``"CARC 96"``, ``"RARC N130"``)."""
    with open(data_path("reason_codes.csv"), newline="", encoding="utf-8") as handle:
        said = {}
        for row in csv.DictReader(handle):
            said[f"CARC {row['carc']}"] = row["carc_says"]
            if row["rarc"]:
                said[f"RARC {row['rarc']}"] = row["rarc_says"]
    return said
