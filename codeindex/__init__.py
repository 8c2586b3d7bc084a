"""codeindex: clinical policy bulletin code lists as integer interval indexes, and bulk
claim screening against them."""

from codeindex.code import Code
from codeindex.codesets import code_set
from codeindex.errors import (
    CodeindexError,
    InputError,
    InvalidCodeError,
    InvalidRangeError,
    PolicyParseError,
    UnknownSystemError,
)
from codeindex.expressions import CodeExpressions  # registers pl.Expr.codeindex
from codeindex.index import CodeIndex, Entry, Hit
from codeindex.ranges import CodeRange, parse_range
from codeindex.systems import is_valid, parse_code

__all__ = [
    "Code", "CodeExpressions", "CodeIndex", "CodeRange", "CodeindexError", "Entry", "Hit", "InputError",
    "InvalidCodeError", "InvalidRangeError", "PolicyParseError", "UnknownSystemError", "code_set", "is_valid",
    "parse_code", "parse_range",
]
