"""Procedure codes as they share one claim column: CPT and HCPCS Level II.

CPT Category I ("97545"), Category II ("0001F"), Category III ("0016T"), PLA
("0214U"), MAAA ("0002M") and HCPCS Level II ("A4206", "S9117").  Each category
and each Level II letter is its own kind, so 0016T never falls inside 0001F-9999F
and no letter code inside a numeric range.  Every code is full length: no hierarchy.
"""

from __future__ import annotations

import re

from codeindex.code import Code, key
from codeindex.errors import InvalidCodeError

NAME = "hcpcs"
_SUFFIX_KINDS = {"F": ("cpt_category_ii", 1), "T": ("cpt_category_iii", 2),
                 "U": ("cpt_pla", 3), "M": ("cpt_maaa", 4)}
_LEVEL2_LETTERS = "ABCDEGHJKLMPQRSTV"  # D: dental (CDT) codes
_CODE = re.compile(r"([0-9]{5})|([0-9]{4})([FTUM])|([A-Z])([0-9]{4})", re.ASCII)
_WITH_MODIFIER = re.compile(r"([0-9A-Z]{5})[ \-]*([0-9A-Z]{2})", re.ASCII)
# A claim's procedure with one to four two-character modifiers: 97545-GP, 97545GP, 97545 GP, 97545-GP-59.
_WITH_MODIFIERS_ANY_CASE = re.compile(r"([0-9A-Z]{5})((?:[ \-]?[0-9A-Z]{2}){1,4})", re.ASCII | re.IGNORECASE)


def parse(text: str) -> Code:
    """Parse a CPT or HCPCS Level II code."""
    if not isinstance(text, str):
        raise InvalidCodeError(NAME, text, f"expected text, got {type(text).__name__}")
    clean = text.strip().upper()
    if not clean:
        raise InvalidCodeError(NAME, text, "empty")
    match = _CODE.fullmatch(clean)
    if match is None:
        if _WITH_MODIFIER.fullmatch(clean) and _CODE.fullmatch(clean[:5]):
            raise InvalidCodeError(NAME, text, "a modifier is attached; give the 5-character code alone")
        raise InvalidCodeError(
            NAME, text, "expected 5 digits, 4 digits then F, T, U or M, or a letter then 4 digits"
        )
    cat1, digits, suffix, letter, letter_digits = match.groups()
    if cat1:
        kind, kind_id, value = "cpt_category_i", 0, int(cat1)
    elif suffix:
        (kind, kind_id), value = _SUFFIX_KINDS[suffix], int(digits)
    else:
        if letter not in _LEVEL2_LETTERS:
            raise InvalidCodeError(NAME, text, f"no HCPCS Level II codes begin with {letter}")
        kind, kind_id, value = f"hcpcs_level_ii_{letter}", 16 + ord(letter) - ord("A"), int(letter_digits)
    point = key(NAME, kind_id, value)
    return Code(NAME, kind, clean, clean, point, point)


def split_modifiers(text: str) -> tuple[str, tuple[str, ...]] | None:
    """A procedure as claims write it with one to four two-character modifiers after its code ("97545-GP",
    "97545GP", "97545 GP", "97545-GP-59"): the code's text and the modifiers (upper case); None when the
    text is not so written.  Only ASCII letters and digits count; the code's text is still to be parsed."""
    match = _WITH_MODIFIERS_ANY_CASE.fullmatch(text)
    if match is None:
        return None
    return match.group(1), tuple(re.findall(r"[0-9A-Z]{2}", re.sub(r"[ \-]", "", match.group(2).upper())))
