"""An interval index of code ranges: one ``intervaltree.IntervalTree`` per code system.

Each entry is a range with a payload (for a policy: its version, group and entry).
A lookup returns every entry the code's leaf span touches, each with its match kind,
never just the first.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from intervaltree import Interval, IntervalTree

from codeindex.code import Code
from codeindex.codesets import code_set
from codeindex.ranges import CodeRange, Match
from codeindex.systems import parse_code, system_name


@dataclass(frozen=True, slots=True)
class Entry:
    """One indexed range and what it stands for."""

    range: CodeRange
    payload: Any = None


class Hit(NamedTuple):
    """An entry a code matched, and how: "contained" or "partial" (a tuple: lookups make many)."""

    entry: Entry
    match: Match


def _interval(entry: Entry | CodeRange, payload: Any = None) -> Interval:
    """An entry as a tree interval; intervaltree is half-open, so the end is hi + 1."""
    entry = entry if isinstance(entry, Entry) else Entry(entry, payload)
    return Interval(entry.range.lo, entry.range.hi + 1, entry)


class CodeIndex:
    """Ranges of any code systems, queried by code or by range."""

    def __init__(self, entries: Iterable[Entry | CodeRange] = ()) -> None:
        intervals: dict[str, list[Interval]] = {}
        for entry in entries:  # built in one go per system: much faster than adding one by one
            interval = _interval(entry)
            intervals.setdefault(interval.data.range.system, []).append(interval)
        self.trees: dict[str, IntervalTree] = {s: IntervalTree(ivs) for s, ivs in intervals.items()}

    def add(self, entry: Entry | CodeRange, payload: Any = None) -> Entry:
        interval = _interval(entry, payload)
        self.trees.setdefault(interval.data.range.system, IntervalTree()).add(interval)
        added: Entry = interval.data
        return added

    def __len__(self) -> int:
        return sum(len(t) for t in self.trees.values())

    def __iter__(self) -> Iterator[Entry]:
        for tree in self.trees.values():
            yield from sorted((iv.data for iv in tree), key=lambda e: (e.range.lo, e.range.hi))

    def lookup(self, code: Code | str, system: str | None = None) -> list[Hit]:
        """Every entry whose range the code's leaf span lies in or overlaps, in range order."""
        if isinstance(code, str):
            if system is None:
                raise TypeError("lookup of a code given as text needs its system")
            code = parse_code(code, system)
        return self._hits(code.system, code.lo, code.hi)

    def _hits(self, system: str, lo: int, hi: int) -> list[Hit]:
        tree = self.trees.get(system)
        if tree is None:
            return []
        if lo == hi:  # a full-length code: a point, inside every interval that holds it
            hits = [Hit(iv.data, "contained") for iv in tree.at(lo)]
        else:
            hits = [Hit(iv.data, "contained" if iv.begin <= lo and hi < iv.end else "partial")
                    for iv in tree.overlap(lo, hi + 1)]
        if len(hits) > 1:
            hits.sort(key=lambda h: (h.entry.range.lo, h.entry.range.hi))
        return hits

    def overlapping(self, code_range: CodeRange) -> list[Hit]:
        """Entries that share any code with ``code_range``: "contained" when the whole
        of ``code_range`` lies inside the entry, "partial" otherwise."""
        return self._hits(code_range.system, code_range.lo, code_range.hi)

    def expand(self, code_range: CodeRange, parents: bool = False) -> list[Code]:
        """The defined codes inside a range, from the system's official code set."""
        return code_set(system_name(code_range.system)).expand(code_range, parents=parents)
