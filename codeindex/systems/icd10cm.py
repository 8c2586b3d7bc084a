"""ICD-10-CM diagnoses: 3 to 7 characters, a dot after the third ("S72.001A", "S72001A").

Characters sort as in the code set (digits before letters); each position is a
base-36 digit, so key order is code order.  A trailing "+" on a 6-character code,
as bulletins write it ("S00.00X+"), stands for any 7th character: its span is the
same as the code's own, the "+" is kept in the decimal form.
"""

from __future__ import annotations

import re

from codeindex.code import Code, key
from codeindex.errors import InvalidCodeError

NAME = "icd10cm"
FULL_LENGTH = 7
_FORM = re.compile(r"([A-Z][0-9][0-9A-Z])(\.?)([0-9A-Z]{0,4})(\+?)", re.ASCII)


def parse(text: str) -> Code:
    """Parse an ICD-10-CM code in decimal or short form, with an optional 7th-character "+"."""
    if not isinstance(text, str):
        raise InvalidCodeError(NAME, text, f"expected text, got {type(text).__name__}")
    clean = text.strip().upper()
    if not clean:
        raise InvalidCodeError(NAME, text, "empty")
    match = _FORM.fullmatch(clean)
    if match is None:
        if len(clean.replace(".", "").rstrip("+")) > FULL_LENGTH:
            raise InvalidCodeError(NAME, text, "longer than 7 characters")
        raise InvalidCodeError(
            NAME, text, "expected a letter, a digit, a digit or letter, then up to 4 more after any dot",
        )
    category, dot, rest, plus = match.groups()
    if dot and not rest:
        raise InvalidCodeError(NAME, text, "nothing after the dot")
    short = category + rest
    if plus and len(short) != FULL_LENGTH - 1:
        raise InvalidCodeError(NAME, text, '"+" (any 7th character) follows exactly 6 characters')
    decimal = category + ("." + rest if rest else "") + plus
    lo = key(NAME, 0, int(short.ljust(FULL_LENGTH, "0"), 36))
    hi = key(NAME, 0, int(short.ljust(FULL_LENGTH, "Z"), 36))
    return Code(NAME, "diagnosis", short, decimal, lo, hi)
