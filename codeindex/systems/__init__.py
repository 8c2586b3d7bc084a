"""The code systems, one module each, and ``parse_code`` that dispatches to them."""

from __future__ import annotations

from functools import lru_cache
from types import ModuleType

from codeindex.code import Code
from codeindex.errors import InvalidCodeError, UnknownSystemError
from codeindex.systems import hcpcs, icd9dx, icd9pcs, icd10cm

SYSTEMS: dict[str, ModuleType] = {m.NAME: m for m in (icd9dx, icd9pcs, hcpcs, icd10cm)}
ALIASES = {"cpt": "hcpcs", "icd9": "icd9dx", "icd10": "icd10cm"}


def system_name(system: str) -> str:
    """The canonical name of a system or alias; raises for an unknown one."""
    name = ALIASES.get(system, system)
    if name not in SYSTEMS:
        raise UnknownSystemError(system, sorted([*SYSTEMS, *ALIASES]))
    return name


# Spaces around a code are trimmed (Unicode white space, as polars' strip_chars does); what is left must be
# printable ASCII: "ſ9117" upper-cases to "S9117" and "ı10" to "I10", but neither is a code.
WHITESPACE = "".join(chr(c) for c in range(0x3001) if chr(c).isspace() and not 0x1C <= c <= 0x1F)


@lru_cache(maxsize=1 << 17)
def _parse_cached(text: str, system: str) -> Code:
    core = text.strip(WHITESPACE)
    if not all(" " <= ch <= "~" for ch in core):
        odd = next(ch for ch in core if not " " <= ch <= "~")
        raise InvalidCodeError(system_name(system), text,
                               f"{odd!r} (U+{ord(odd):04X}) is not a code character: only ASCII letters and digits are")
    code: Code = SYSTEMS[system_name(system)].parse(text)
    return code


def parse_code(text: str, system: str) -> Code:
    """Parse ``text`` as a code of ``system``; raises InvalidCodeError.

    Results are cached: the code domain is small next to claim volumes.
    """
    if not isinstance(text, str):
        return SYSTEMS[system_name(system)].parse(text)  # raises, naming the type
    return _parse_cached(text, system)


def is_valid(text: str, system: str) -> bool:
    """True when ``text`` parses as a code of ``system``."""
    try:
        parse_code(text, system)
    except InvalidCodeError:
        return False
    return True
