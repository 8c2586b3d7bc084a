"""A parsed code and the integer key layout every code system shares.

A code denotes its leaf span: every full-length code its short form prefixes.
The span is held as two int64 keys, ``lo`` and ``hi``.  A key is laid out as::

    system (8 bits) | kind (8 bits) | value (48 bits)

so that systems and kinds (numeric, V and E codes; CPT categories; HCPCS letters)
never interleave, and within one kind key order is code order.  A full-length code
is a point (``lo == hi``).  Nothing here is ever a float.
"""

from __future__ import annotations

from dataclasses import dataclass

SYSTEM_BITS = 56
KIND_BITS = 48
VALUE_MASK = (1 << KIND_BITS) - 1

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
        """True when the code has no descendants by form (its span is one point)."""
        return self.lo == self.hi

    def __str__(self) -> str:
        return self.decimal
