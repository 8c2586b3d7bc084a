"""ICD-9-CM diagnoses: numeric 001-999, V01-V91 (up to 2 minor digits), E000-E999 (1).

Accepts the decimal form ("800.00", "V57.22", "E880.9", "1.0" for 001.0, "123." for
123) and the claim-style short form ("80000", "V5722", "E8809").  Full-length codes
have five characters in every kind, so ``0010`` spans 00100-00109.
"""

from __future__ import annotations

import re

from codeindex.code import Code, key
from codeindex.errors import InvalidCodeError

NAME = "icd9dx"
FULL_LENGTH = 5
_KINDS = {"": 0, "V": 1, "E": 2}
_KIND_NAMES = {"": "a numeric", "V": "a V", "E": "an E"}
_MAJOR_DIGITS = {"": 3, "V": 2, "E": 3}
_MINOR_DIGITS = {"": 2, "V": 2, "E": 1}
_FORM = re.compile(r"([VE]?)([0-9]*)(?:(\.)([0-9]*))?", re.ASCII)


def _error(text: object, problem: str) -> InvalidCodeError:
    return InvalidCodeError(NAME, text, problem)


def parse(text: str) -> Code:
    """Parse an ICD-9-CM diagnosis code in decimal or short form."""
    if not isinstance(text, str):
        raise _error(text, f"expected text, got {type(text).__name__}")
    clean = text.strip().upper()
    if not clean:
        raise _error(text, "empty")
    match = _FORM.fullmatch(clean)
    if match is None:
        if "O" in clean:
            raise _error(text, "contains the letter O where a digit 0 belongs")
        raise _error(text, "expected digits, or V or E then digits, with at most one dot")
    prefix, digits, dot, minor = match.groups()
    kind = _KIND_NAMES[prefix]  # with its article, for messages
    major_len = _MAJOR_DIGITS[prefix]
    if dot:
        if not digits:
            raise _error(text, "no digits before the dot")
        if len(digits) > major_len or (prefix and len(digits) != major_len):
            raise _error(text, f"{kind} code has {major_len} digits before the dot")
        major = digits.zfill(major_len)
    else:
        if len(digits) < major_len:
            raise _error(text, f"shorter than the {major_len}-digit major of {kind} code")
        major, minor = digits[:major_len], digits[major_len:]
    if len(minor) > _MINOR_DIGITS[prefix]:
        raise _error(text, f"{kind} code has at most {_MINOR_DIGITS[prefix]} minor digit(s)")
    number = int(major)
    if prefix == "" and number == 0:
        raise _error(text, "numeric codes run from 001 to 999")
    if prefix == "V" and not 1 <= number <= 91:
        raise _error(text, "V codes run from V01 to V91")
    short = prefix + major + minor
    decimal = prefix + major + ("." + minor if minor else "")
    body = short[1:] if prefix else short
    width = FULL_LENGTH - len(prefix)
    kind_id = _KINDS[prefix]
    lo = key(NAME, kind_id, int(body.ljust(width, "0")))
    hi = key(NAME, kind_id, int(body.ljust(width, "9")))
    return Code(NAME, kind.split()[1], short, decimal, lo, hi)
