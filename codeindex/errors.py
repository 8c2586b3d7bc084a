"""The exception types every layer raises, so callers can catch precisely."""

from __future__ import annotations


class CodeindexError(ValueError):
    """The base of every error codeindex raises on purpose: catch this to catch them all."""


class InvalidCodeError(CodeindexError):
    """A code or range that is not valid in its code system.

    The message names the system, the input as given and what is wrong with it.
    """

    def __init__(self, system: str, text: object, problem: str) -> None:
        self.system = system
        self.text = text
        self.problem = problem
        super().__init__(f"{system}: {text!r} is not a valid code: {problem}")


class InvalidRangeError(InvalidCodeError):
    """A range whose ends are valid codes but that does not form a range."""

    def __init__(self, system: str, text: object, problem: str) -> None:
        self.system = system
        self.text = text
        self.problem = problem
        CodeindexError.__init__(self, f"{system}: {text!r} is not a valid range: {problem}")


class UnknownSystemError(InvalidCodeError):
    """A code system name codeindex does not know (``parse_code("800.00", "icd-9")``): it names the system
    and the ones there are, not the code."""

    def __init__(self, system: str, known: list[str]) -> None:
        self.system = system
        self.text = None
        self.problem = f"unknown code system (known: {', '.join(known)})"
        self.known = known
        CodeindexError.__init__(self, f"unknown code system {system!r} (known: {', '.join(known)})")


class PolicyParseError(CodeindexError):
    """A bulletin's code section that cannot be read; names the line (when there is one)."""

    SHOWN = 120  # characters of the line quoted in the message

    def __init__(self, line_no: int | None, line: str | None, problem: str, source: str | None = None) -> None:
        self.line_no = line_no
        self.line = line
        self.problem = problem
        self.source = source
        where = ", ".join(filter(None, [source, f"line {line_no}" if line_no else None])) or "policy text"
        message = f"{where}: {problem}"
        if line is not None:
            text = " ".join(line.split())
            message += f": {text[:self.SHOWN] + ' ...' if len(text) > self.SHOWN else text!r}"
        super().__init__(message)


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type when it has none), for one-line errors."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class InputError(CodeindexError):
    """Claim input that cannot be read: a missing file, column, or unreadable content."""


class OutputError(CodeindexError):
    """An output that cannot or must not be written: a directory, a device, the input itself, a full disk."""


class NcciFileError(PolicyParseError):
    """A CMS NCCI edit file (PTP, MUE or add-on code) that cannot be read as published: names the file, and the
    line (text files) or row (spreadsheets) and what is wrong there when the fault is in one row."""

    def __init__(self, path: str, line_no: int | None, problem: str, line: str | None = None,
                 unit: str = "line") -> None:
        self.path = path
        self.line_no = line_no
        self.line = line
        self.problem = problem
        self.source = path
        self.unit = unit
        message = f"{path}, {unit} {line_no}: {problem}" if line_no else f"{path}: {problem}"
        if line is not None:
            text = " ".join(line.split())
            message += f": {text[:self.SHOWN] + ' ...' if len(text) > self.SHOWN else text!r}"
        CodeindexError.__init__(self, message)
