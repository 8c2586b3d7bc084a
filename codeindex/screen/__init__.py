"""Bulk claim screening: claim lines in, every line with its determination out."""

from __future__ import annotations

import polars as pl

from codeindex.policy import Policy, load_policy
from codeindex.screen.determination import DETERMINATIONS, RESULT_SCHEMA, EditsMode, screen_lines
from codeindex.screen.layouts import LAYOUTS, Source, claim_lines, read_source


def screen(source: Source, policy: str | Policy = "0198", layout: str = "long", *,
           icd_version: int | None = None, edits: EditsMode = "policy", streaming: bool = False,
           **columns: object) -> pl.LazyFrame:
    """Screen claim lines against a policy: every input line, in order, plus its determination.

    ``source`` is a LazyFrame, a DataFrame, or parquet/CSV path(s), a glob or a directory.
    Long-layout column names can be overridden: ``claim_id``, ``line_no``, ``procedure``,
    ``dx`` (a list), ``date``, ``amount``.  ``icd_version`` (9 or 10) is the version of lines
    with neither an ``icd_version`` column value nor a readable date.  The lines are read into memory once;
    with ``streaming`` the source is read in passes instead, for input larger than memory.
    """
    compiled = load_policy(policy)
    rows, cols = claim_lines(source, layout, **columns)
    return screen_lines(rows, cols, compiled, where=_name(source), icd_version=icd_version, edits=edits,
                        streaming=streaming)


def _name(source: Source) -> str:
    return "the input frame" if isinstance(source, (pl.LazyFrame, pl.DataFrame)) else str(source)


__all__ = ["DETERMINATIONS", "LAYOUTS", "RESULT_SCHEMA", "claim_lines", "read_source", "screen"]
