"""A brute-force model of the bundled ICD code sets for the tests: codes as strings in a list in tabular
order, spans as list positions, found by scanning for prefixes; no keys, no joins."""

from __future__ import annotations

from functools import cache

import polars as pl

from codeindex.data import data_path

Span = tuple[int, int]


def _icd9_order(short: str) -> tuple[int, str, int]:
    kind = "VE".find(short[0]) + 1
    body = short[1:] if kind else short
    return kind, body.ljust(5 - (kind > 0), "0"), len(short)


class Model:
    """Every code of every release of one system, in tabular order, with its status per release
    (0 absent, 1 defined not billable, 2 billable)."""

    def __init__(self, system: str) -> None:
        table = pl.read_parquet(data_path("codesets", f"{system}.parquet"))
        self.releases = [c for c in table.columns if c not in ("short", "rank", "description")]
        status = {row[0]: tuple(row[1:]) for row in table.select("short", *self.releases).iter_rows()}
        if system == "icd9dx":  # the bundled list holds billable codes; parents are their prefixes
            for short, billable in list(status.items()):
                major = 4 if short[0] == "E" else 3
                for n in range(major, len(short)):
                    old = status.get(short[:n], (0,) * len(billable))
                    status[short[:n]] = tuple(max(o, 1 if b == 2 else 0) for o, b in zip(old, billable, strict=True))
            self.order = sorted(status, key=_icd9_order)
        else:
            self.order = table.sort("rank")["short"].to_list()
        self.status = status
        self.position = {short: i for i, short in enumerate(self.order)}
        self.by_category: dict[str, list[str]] = {}
        for short in self.order:
            self.by_category.setdefault(short[:3], []).append(short)

    def defined(self, release: int) -> list[str]:
        return [s for s in self.order if self.status[s][release] > 0]

    def billable(self, release: int | None, short: str) -> bool:
        states = self.status.get(short)
        return states is not None and (2 in states if release is None else states[release] == 2)

    def span(self, text: str, release: int | None = None) -> Span | None:
        """The first and last position of the codes that ``text`` prefixes billable in the release
        (in any release when None); None when there are none."""
        found = [self.position[s] for s in self.by_category.get(text[:3], ())
                 if s.startswith(text) and self.billable(release, s)]
        return (min(found), max(found)) if found else None

    def window(self, release: int, lo: int, hi: int) -> list[str]:
        """The codes billable in the release between two positions, in order."""
        return [s for s in self.order[lo:hi + 1] if self.status[s][release] == 2]


def match(span: Span | None, lo: int, hi: int) -> str | None:
    if span is None or span[1] < lo or span[0] > hi:
        return None
    return "contained" if lo <= span[0] and span[1] <= hi else "partial"


@cache
def model(system: str) -> Model:
    return Model(system)
