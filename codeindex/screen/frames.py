"""Frame helpers the screen's steps share: numbering distinct rows, dense position tables, scattering.

Each works on small frames (distinct keys, classes, notes) or is one vectorized pass over lines.
"""

from __future__ import annotations

import math

import polars as pl


def distinct_rows(frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.Series]:
    """The distinct rows of ``frame`` in the order the rows meet them, and each row's position among them (nulls
    equal): what is worked out once per distinct row is gathered back by it, and ``at.arg_unique()`` is each
    distinct row's first row.  Rows of small integers are first packed into one (a hash table of
    one column is twice as fast as of three); other rows are numbered by a 64-bit hash of each, checked (the
    distinct rows gathered back must be the rows: two rows of one hash would not be), and only when the check
    fails by a join on every column (five to ten times slower on 170,000 rows of text)."""
    key = _packed(frame)
    if key is not None:
        return _by_key(frame, key)
    distinct, at = _by_key(frame, _row_hash(frame))
    if distinct[at].equals(frame):
        return distinct, at
    distinct = frame.unique(maintain_order=True)
    at = frame.join(distinct.with_row_index("row_of_distinct"), on=frame.columns, how="left", nulls_equal=True,
                    maintain_order="left")["row_of_distinct"]
    return distinct, at


def _by_key(frame: pl.DataFrame, key: pl.Series) -> tuple[pl.DataFrame, pl.Series]:
    """The rows of ``frame`` of distinct ``key``, and each row's position among them."""
    first = key.arg_unique()  # each distinct row's first occurrence
    at = key.to_frame("key").join(key.gather(first).to_frame("key").with_row_index("row_of_distinct"), on="key",
                                  how="left", maintain_order="left")["row_of_distinct"]
    return frame[first], at


def _row_hash(frame: pl.DataFrame) -> pl.Series:
    return frame.select(pl.struct(pl.all()).hash()).to_series()


def _packed(frame: pl.DataFrame) -> pl.Series | None:
    """Each row of a frame of integer columns as one integer (digits in mixed radix, a null the largest digit),
    None when the frame holds other columns or the integer would not fit in 63 bits."""
    if not all(dtype.is_integer() for dtype in frame.dtypes):
        return None
    bounds = frame.select(pl.all().min().fill_null(0).name.suffix("_low"), pl.all().max().fill_null(-1)).row(0)
    lows, tops = bounds[:frame.width], bounds[frame.width:]
    radices = [top + 2 for top in tops]  # digits 0..top, and null
    if min(lows, default=0) < 0 or math.prod(radices) >= 2**63:
        return None
    key = pl.lit(0, pl.Int64)
    for column, radix in zip(frame.columns, radices, strict=True):
        key = key * radix + pl.col(column).cast(pl.Int64).fill_null(radix - 1)
    return frame.select(key).to_series()


def dense(size: int, at: pl.Series, values: pl.Series, missing: int) -> pl.Series:
    """A table of ``size`` UInt32 values, ``values`` at positions ``at``, ``missing`` elsewhere (what it gives a
    column of cells holds half what Int64 would)."""
    return pl.repeat(missing, size, dtype=pl.UInt32, eager=True).scatter(at, values.cast(pl.UInt32))


def scattered(values: pl.Series, at: pl.Series) -> pl.Series:
    """``values`` placed at the true positions of ``at``, null elsewhere."""
    return pl.repeat(None, at.len(), dtype=values.dtype, eager=True).scatter(at.arg_true(), values)


def nonempty(text: pl.Expr) -> pl.Expr:
    """The text, or null when it is empty (so ``concat_str(..., ignore_nulls=True)`` skips it)."""
    return pl.when(text != "").then(text)
