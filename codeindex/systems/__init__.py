"""The code systems, one module each, and ``parse_code`` that dispatches to them."""

from __future__ import annotations

from functools import lru_cache
from types import ModuleType

from codeindex.code import Code
from codeindex.errors import InvalidCodeError
from codeindex.systems import hcpcs, icd9dx, icd9pcs, icd10cm

SYSTEMS: dict[str, ModuleType] = {m.NAME: m for m in (icd9dx, icd9pcs, hcpcs, icd10cm)}
ALIASES = {"cpt": "hcpcs", "icd9": "icd9dx", "icd10": "icd10cm"}


def system_name(system: str) -> str:
    """The canonical name of a system or alias; raises for an unknown one."""
    name = ALIASES.get(system, system)
    if name not in SYSTEMS:
        known = ", ".join(sorted([*SYSTEMS, *ALIASES]))
        raise InvalidCodeError(system, "", f"unknown code system (known: {known})")
    return name


@lru_cache(maxsize=1 << 17)
def _parse_cached(text: str, system: str) -> Code:
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
