"""Code ranges as bulletins write them ("800.00 - 999.9"), as integer intervals.

A range covers from the first leaf of its start to the last leaf of its end, so
"V15.1 - V15.6" covers V15.59.  A code matches a range when its leaf span lies
inside it ("contained"); a span that only overlaps it is a "partial" match, a
non-specific code that is neither a hit nor a miss.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from codeindex.code import Code
from codeindex.errors import InvalidCodeError, InvalidRangeError
from codeindex.systems import parse_code, system_name

Match = Literal["contained", "partial"]
_SEPARATOR = re.compile(r"\s*[-\u2013\u2014]\s*")


@dataclass(frozen=True, slots=True)
class CodeRange:
    """The codes from the first leaf of ``start`` to the last leaf of ``end``."""

    start: Code
    end: Code

    @property
    def system(self) -> str:
        return self.start.system

    @property
    def lo(self) -> int:
        return self.start.lo

    @property
    def hi(self) -> int:
        return self.end.hi

    @property
    def is_single(self) -> bool:
        return self.start == self.end

    def _code(self, code: Code | str) -> Code:
        return parse_code(code, self.system) if isinstance(code, str) else code

    def match(self, code: Code | str) -> Match | None:
        """"contained" when the code's leaf span lies inside, "partial" when it only overlaps."""
        c = self._code(code)
        if c.hi < self.lo or c.lo > self.hi:
            return None
        return "contained" if self.lo <= c.lo and c.hi <= self.hi else "partial"

    def contains(self, code: Code | str) -> bool:
        c = self._code(code)
        return self.lo <= c.lo and c.hi <= self.hi

    def overlaps(self, code: Code | str) -> bool:
        """True when any leaf of the code lies in the range (contained or partial)."""
        c = self._code(code)
        return c.lo <= self.hi and self.lo <= c.hi

    def __str__(self) -> str:
        return self.start.decimal if self.is_single else f"{self.start.decimal}-{self.end.decimal}"


def parse_range(text: str, system: str) -> CodeRange:
    """Parse "A - B" (hyphen, en or em dash, spaces optional) or a single code."""
    name = system_name(system)
    if not isinstance(text, str):
        raise InvalidRangeError(name, text, f"expected text, got {type(text).__name__}")
    parts = _SEPARATOR.split(text.strip())
    if len(parts) == 1:
        code = parse_code(parts[0], name)
        return CodeRange(code, code)
    if len(parts) != 2 or not all(parts):
        raise InvalidRangeError(name, text, "expected one code, or two codes joined by a dash")
    try:
        start, end = parse_code(parts[0], name), parse_code(parts[1], name)
    except InvalidCodeError as exc:
        raise InvalidRangeError(name, text, f"{exc.text!r} {exc.problem}") from None
    if start.kind != end.kind:
        raise InvalidRangeError(
            name, text, f"it runs from {start.decimal} ({start.kind}) to {end.decimal} ({end.kind}); "
            "a range stays within one kind"
        )
    if start.lo > end.lo:
        raise InvalidRangeError(name, text, f"it is reversed: {start.decimal} comes after {end.decimal}")
    return CodeRange(start, end)
