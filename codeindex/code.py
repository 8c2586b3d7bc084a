"""A parsed code and the integer key layout every code system shares.

Every code has a key, and key order is code order: for ICD-10-CM the CMS tabular order, for the
other systems the order of their digits.  A code denotes its span, the keys of the first and last
billable code beneath it in the code set (a billable code is one point, ``lo == hi``), held as two
int64 keys ``lo`` and ``hi``.  A key is laid out as::

    system (8 bits) | kind (8 bits) | value (48 bits)

so that systems and kinds (numeric, V and E codes; CPT categories; HCPCS letters) never interleave
(ICD-10-CM has one kind and uses the kind bits too: its value is its tabular position).  Nothing
here is ever a float.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

SYSTEM_BITS = 56
KIND_BITS = 48

# One number per system; the order is arbitrary but fixed (keys are stored in files).
SYSTEM_IDS = {"icd9dx": 1, "icd9pcs": 2, "hcpcs": 3, "icd10cm": 4}


def key(system: str, kind_id: int, value: int) -> int:
    """The int64 key of ``value`` within ``kind_id`` of ``system``."""
    return (SYSTEM_IDS[system] << SYSTEM_BITS) | (kind_id << KIND_BITS) | value


@dataclass(frozen=True, slots=True)
class Code:
    """One code of one system, as parsed.

    ``short`` is the claim-style form without a dot, ``decimal`` the form printed in
    bulletins.  ``lo`` and ``hi`` are the keys of the first and last full-length
    code of its leaf span.
    """

    system: str
    kind: str
    short: str
    decimal: str
    lo: int
    hi: int

    @property
    def span(self) -> tuple[int, int]:
        return (self.lo, self.hi)

    @property
    def is_full_length(self) -> bool:
        """True when the code's span is one point: a billable code with nothing beneath it."""
        return self.lo == self.hi

    def __str__(self) -> str:
        return self.decimal


def subtree_spans(defined: pl.DataFrame, billable: pl.DataFrame) -> pl.DataFrame:
    """The span of each ``defined`` code (column ``short``): the smallest and largest ``key`` of the
    ``billable`` codes (``short``, ``key``) its short form prefixes, itself included.  Codes nest by
    prefix in every ICD code set, so these are the billable codes beneath it."""
    short = pl.col("short")
    # each billable code under each of its prefixes; only the prefixes that are defined codes survive the join
    beneath = (billable.select("key", short, n=pl.int_ranges(1, short.str.len_chars() + 1)).explode("n")
               .select(short=short.str.slice(0, pl.col("n")), key="key").join(defined.select(short), on="short"))
    return beneath.group_by("short").agg(lo=pl.col("key").min(), hi=pl.col("key").max())
