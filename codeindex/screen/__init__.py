"""Bulk claim screening: claim lines in, every line with its determination out.

``screen`` returns a LazyFrame that has read no claim line yet: the screen runs when the frame is
collected or sunk, as a polars IO source.  What must be known up front is read when it is called:
the policy, and the input's columns (file footers and CSV headers), so a missing column or an
unreadable file is an error at once.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import polars as pl
from polars.io.plugins import register_io_source

from codeindex.errors import InputError, first_line
from codeindex.policy import Policy, load_policies
from codeindex.policy.compiled import compile_policies
from codeindex.policy.ncci import NcciTables
from codeindex.screen.columns import DETERMINATIONS, FINDING, RESULT
from codeindex.screen.driver import EditsMode, screen_lines
from codeindex.screen.layouts import LAYOUTS, claim_lines
from codeindex.screen.source import Source, check_csv_rows, read_source

PolicyChoice = str | os.PathLike[str] | Policy | NcciTables


def screen(source: Source, policy: PolicyChoice | Sequence[PolicyChoice] = "0198", layout: str = "long", *,
           icd_version: int | None = None, edits: EditsMode = "policy", streaming: bool = False,
           ncci_setting: str = "practitioner", storage_options: Mapping[str, Any] | None = None,
           **columns: Any) -> pl.LazyFrame:
    """Screen claim lines against a policy, or a library of them: every input line, in order, plus its
    determination.

    ``policy`` is a bundled policy id, a bulletin file, a ``Policy``, or a list of those: a library,
    screened in one pass.  Against a library a line takes the finding of the most severe of the
    policies that name its procedure (not_covered, review, covered, not_applicable; on a tie, the
    policy listed first), and a ``findings`` column lists every such policy's finding (a list of
    structs with the result columns; ``by_policy`` gives one row per line and policy).  A library may hold
    NCCI tables (``load_ncci``) beside bulletins: every line also draws the edits of the lines billed with
    it (for one member, by one provider, on one date), as claims of ``ncci_setting`` (practitioner,
    outpatient_hospital or dme), and the ``ncci.NCCI_RESULT`` columns are added.

    ``source`` is a polars LazyFrame or DataFrame; anything with the Arrow PyCapsule stream interface
    (a pyarrow Table or RecordBatchReader, a pandas DataFrame, a DuckDB relation: read into memory
    here, as a stream can be read once); or parquet/CSV path(s), globs, directories (hive partition
    folders such as ``year=2023/`` become columns) or URIs (``s3://...``, passed to polars' scanners
    with ``storage_options``).  Long-layout column names can be overridden: ``claim_id``,
    ``procedure``, ``dx`` (a list), ``date``, ``amount``, ``modifiers`` (a list of columns holding the
    procedure's modifiers; the reason names these columns), and the roles NCCI edits read: ``member``,
    ``provider``, ``units``.  ``icd_version`` (9 or 10) is the version of
    lines with neither an ``icd_version`` column value nor a readable date.

    Nothing is screened until the result is collected or sunk; then the lines are read into memory
    once, or with ``streaming`` in passes, for input larger than memory.  Filters and column choices
    after it are applied as the screened lines come out; every line is still read and screened (an
    add-on's primary may be on any line of its claim).  Content that cannot be read raises
    ``InputError`` then: when the frame is collected.
    """
    library, bulletins, tables = library_parts(policy)
    compiled = compile_policies(load_policies(bulletins))
    rows, cols = claim_lines(source, layout, storage_options=storage_options, **columns)
    where = _name(source)
    schema, screened = screen_lines(rows, cols, compiled, where=where, icd_version=icd_version, edits=edits,
                                    streaming=streaming, with_findings=library, ncci=tables,
                                    ncci_setting=ncci_setting)  # columns, options checked now
    results = set(schema) - set(cols.output)

    def io_source(with_columns: list[str] | None, predicate: pl.Expr | None, n_rows: int | None,
                  batch_size: int | None) -> Iterator[pl.DataFrame]:
        """The screened lines, with what polars pushes down (columns, filter, count) applied as they come out;
        errors of reading the input as ``InputError``."""
        try:
            check_csv_rows(source)
            if with_columns is not None and predicate is None and results.isdisjoint(with_columns):
                lines = cols.lines(rows).select(with_columns)  # no result column asked for (a count): no screen
                yield from (lines.head(n_rows) if n_rows is not None else lines).collect_batches(chunk_size=batch_size)
                return
            left = n_rows
            for batch in screened():
                batch = batch.filter(predicate) if predicate is not None else batch
                batch = batch.select(with_columns) if with_columns is not None else batch
                if left is not None:
                    batch, left = batch.head(left), left - min(left, batch.height)
                yield batch
                if left == 0:
                    return
        except pl.exceptions.PolarsError as exc:  # unreadable content past the footers and headers
            raise InputError(f"{where}: cannot read it: {first_line(exc)}") from None

    return register_io_source(io_source, schema=schema, explain_name="codeindex screen", explain_detail=where)


def policy_list(policy: PolicyChoice | Sequence[PolicyChoice]) -> tuple[bool, list[PolicyChoice]]:
    """Whether ``policy`` names a library (a list or tuple, even of one), and its policies."""
    if isinstance(policy, (str, os.PathLike, Policy, NcciTables)):
        return False, [policy]
    return True, list(policy)


def library_parts(policy: PolicyChoice | Sequence[PolicyChoice]
                  ) -> tuple[bool, list[str | os.PathLike[str] | Policy], NcciTables | None]:
    """Whether ``policy`` names a library, its bulletins, and its NCCI tables (one set at most, and never
    alone: they are screened beside a policy)."""
    library, chosen = policy_list(policy)
    tables = [choice for choice in chosen if isinstance(choice, NcciTables)]
    if len(tables) > 1:
        raise InputError("a library holds one set of NCCI tables: load every file in one load_ncci([...])")
    bulletins = [choice for choice in chosen if not isinstance(choice, NcciTables)]
    if not bulletins:
        raise InputError("NCCI tables are screened beside a policy: name one (policy=['0198', tables])")
    return library, bulletins, tables[0] if tables else None


def by_policy(screened: pl.LazyFrame | pl.DataFrame) -> pl.LazyFrame:
    """A library's screen as one row per line and policy naming its procedure, for SQL: each finding's fields
    in place of the line's deciding ones, and ``findings`` dropped; a line no policy names stays, once, as it
    is.

    >>> import polars as pl
    >>> lines = pl.DataFrame({"claim_id": ["c1"], "procedure_code": ["97545"], "dx1": ["V57.22"],
    ...                       "service_date": ["2014-06-01"]})
    >>> out = by_policy(screen(lines, policy=["0198"], dx=["dx1"])).collect()
    >>> out.select("policy", "determination").rows()
    [('0198', 'not_covered')]
    """
    frame = screened.lazy()
    own = pl.struct([pl.col(name).cast(dtype) if name in RESULT else pl.lit(None, dtype).alias(name)
                     for name, dtype in FINDING.to_schema().items()])  # a line no policy names: its own result
    each = pl.when(pl.col("findings").list.len() > 0).then(pl.col("findings")).otherwise(pl.concat_list(own))
    return (frame.with_columns(findings=each).drop(*RESULT).explode("findings")
            .unnest("findings"))


def _name(source: Source) -> str:
    if isinstance(source, (pl.LazyFrame, pl.DataFrame)):
        return "the input frame"
    if isinstance(source, (list, tuple)):
        return ", ".join(map(str, source))
    return os.fspath(source) if isinstance(source, (str, os.PathLike)) else f"the input {type(source).__name__}"


__all__ = ["DETERMINATIONS", "LAYOUTS", "RESULT", "PolicyChoice", "by_policy", "claim_lines", "library_parts",
           "policy_list",
           "read_source", "screen"]
