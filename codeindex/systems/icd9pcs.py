"""ICD-9-CM procedures (volume 3): a 2-digit major and up to 2 minor digits ("81.08", "8108")."""

from __future__ import annotations

import re

from codeindex.code import Code, key
from codeindex.errors import InvalidCodeError

NAME = "icd9pcs"
FULL_LENGTH = 4
_FORM = re.compile(r"([0-9]*)(?:(\.)([0-9]*))?", re.ASCII)


def parse(text: str) -> Code:
    """Parse an ICD-9-CM procedure code in decimal or short form."""
    if not isinstance(text, str):
        raise InvalidCodeError(NAME, text, f"expected text, got {type(text).__name__}")
    clean = text.strip().upper()
    if not clean:
        raise InvalidCodeError(NAME, text, "empty")
    match = _FORM.fullmatch(clean)
    if match is None:
        raise InvalidCodeError(NAME, text, "expected digits with at most one dot")
    digits, dot, minor = match.groups()
    if dot:
        if len(digits) != 2:
            raise InvalidCodeError(NAME, text, "a procedure code has 2 digits before the dot")
        major = digits
    else:
        if len(digits) < 2:
            raise InvalidCodeError(NAME, text, "shorter than the 2-digit major of a procedure code")
        major, minor = digits[:2], digits[2:]
    if len(minor) > 2:
        raise InvalidCodeError(NAME, text, "a procedure code has at most 2 digits after its major")
    short = major + minor
    decimal = major + ("." + minor if minor else "")
    lo = key(NAME, 0, int(short.ljust(FULL_LENGTH, "0")))
    hi = key(NAME, 0, int(short.ljust(FULL_LENGTH, "9")))
    return Code(NAME, "procedure", short, decimal, lo, hi)
