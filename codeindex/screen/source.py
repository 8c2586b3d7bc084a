"""Where claim lines come from: finding the files a source names, and reading them as one LazyFrame.

A source is a polars frame, an Arrow stream, or paths: files, globs, directories (hive partition
folders become columns) and URIs.  ``input_files`` is the one rule for which local files a source
names, used by the screen and by the CLI (which must not overwrite them, and records them); the
files found are read as themselves (``codeindex.files``), never as patterns.  Only schemas are read
here (file footers and CSV headers), so a missing or unreadable file is an error before any work.
"""

from __future__ import annotations

import csv
import glob
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import polars as pl

from codeindex.errors import InputError, first_line
from codeindex.files import scan_csv_files, scan_parquet_files


@runtime_checkable
class ArrowStream(Protocol):
    """Anything that exports the Arrow PyCapsule stream interface: a pyarrow Table or RecordBatchReader,
    a pandas DataFrame, a DuckDB relation, ..."""

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any: ...


PathSource = str | os.PathLike[str]
Source = pl.LazyFrame | pl.DataFrame | ArrowStream | PathSource | Sequence[PathSource]
ACCEPTED = ("a polars LazyFrame or DataFrame, an object with the Arrow PyCapsule stream interface (a pyarrow "
            "Table or RecordBatchReader, a pandas DataFrame, a DuckDB relation), or parquet/CSV paths, globs, "
            "directories or URIs")
HIDDEN = (".", "_")  # files and folders that are no part of a data set (.snapshots, _SUCCESS, _temporary)
FORMATS = (".parquet", ".csv")


def _is_uri(path: str) -> bool:
    return "://" in path


def _kind(path: str) -> str:
    return "csv" if path.lower().endswith(".csv") else "parquet"


def _walk(root: Path) -> list[Path]:
    """The data files under a directory, in path order: hidden files and folders left out, and each folder
    read once however many symlinks lead to it (a link to an ancestor is no loop)."""
    found, seen = [], set()
    for folder, dirs, names in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        dirs[:] = sorted(d for d in dirs if not d.startswith(HIDDEN))
        found += [Path(folder, n) for n in names if not n.startswith(HIDDEN) and n.lower().endswith(FORMATS)]
    return sorted(found)


def _files(paths: Sequence[PathSource]) -> tuple[list[Path], list[str]]:
    """The local files the given paths name (each once, by its real path), and the hive keys of the given
    folders' own names (``claims/run=5/``: ``run``), which are no partition of the data inside."""
    files: list[Path] = []
    root_keys: list[str] = []
    for given in paths:
        path = Path(given)
        _check_name(path)
        if path.is_dir():
            found = _walk(path)
            if not found:
                raise InputError(f"{path}: directory holds no .parquet or .csv files")
            root_keys += [part.split("=")[0] for part in path.parts if "=" in part]
        elif path.is_file():  # a path that exists is that file, even when its name looks like a pattern
            found = [path]
        elif glob.has_magic(str(given)):
            # The folder the pattern starts in: what lies below it is the data set.
            base = Path(os.path.dirname(re.split(r"[*?\[]", str(given), maxsplit=1)[0]))
            found = sorted(Path(p) for p in glob.glob(str(given), recursive=True) if Path(p).is_file()
                           and not any(part.startswith(HIDDEN) for part in Path(p).relative_to(base).parts))
            if not found:
                raise InputError(f"{given}: no files match")
            root_keys += [part.split("=")[0] for part in base.parts if "=" in part]
        else:
            raise InputError(f"{path}: no such file or directory")
        for file in found:
            _check_name(file)
        files += found
    unique = {os.path.realpath(f): f for f in reversed(files)}  # a symlink loop reaches one file many times
    return [f for f in files if unique.get(os.path.realpath(f)) is f], root_keys


def not_utf8(path: str | os.PathLike[str]) -> str | None:
    """``path`` as it can be shown (undecodable bytes escaped) when its name is not UTF-8, which polars can neither
    open nor write; None when it is."""
    try:
        os.fsencode(path).decode("utf-8")
    except UnicodeDecodeError:
        return os.fsencode(path).decode("utf-8", errors="backslashreplace")
    return None


def _check_name(path: Path) -> None:
    """Refuse a path whose name is not UTF-8: polars reads only UTF-8 paths."""
    if (shown := not_utf8(path)) is not None:
        raise InputError(f"{shown}: its name is not UTF-8, which polars cannot open; rename it")


def input_files(paths: Sequence[PathSource]) -> list[Path]:
    """The local files that ``paths`` name, as the screen reads them: each file given, the data files under each
    directory and the matches of each glob (hidden and ``_``-prefixed names left out, each file once); none for
    URIs.  A path that names nothing is an ``InputError``."""
    local = [p for p in paths if not _is_uri(os.fspath(p))]
    return _files(local)[0] if local else []


def _csv_header(path: Path) -> list[str]:
    """The header of a CSV file, refused when polars would misread it: not UTF-8, CR-only line endings
    (the whole file would be one header), a column named twice (polars renames the second)."""
    with open(path, "rb") as handle:
        head = handle.read(1 << 16)
    if b"\r" in head and b"\n" not in head:
        raise InputError(f"{path}: its lines end in CR only (old Mac line endings); save it with LF or CRLF")
    first = head.split(b"\n", 1)[0].rstrip(b"\r")
    try:
        text = first.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: the header is not UTF-8 (byte {first[exc.start]:#04x} at column "
                         f"{exc.start + 1}); save the file as UTF-8") from None
    names = next(csv.reader([text]), [])
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InputError(f"{path}: column {twice[0]!r} is named twice in the header")
    return names


def _file_schema(path: Path) -> pl.Schema:
    """A local file's columns, read from its footer or header only."""
    kind = _kind(str(path))
    try:
        if kind == "csv":
            names = _csv_header(path)
            schema = scan_csv_files(path, infer_schema=False).collect_schema()
            if not names or len(schema) != len(names):
                raise InputError(f"{path}: cannot read its header as CSV")
            return pl.Schema(dict.fromkeys(names, pl.String))  # the names as CSV quotes them ("a ""b""" is a "b")
        return scan_parquet_files(path).collect_schema()
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise InputError(f"{path}: cannot read it as {kind}: {first_line(exc)}") from None


def _check_alike(files: list[Path], schemas: list[pl.Schema]) -> None:
    """Files read as one must have the same columns of the same types: polars would otherwise cast them to
    a common type (a Date to an integer, an integer claim id to text), altering the user's columns."""
    first = schemas[0]
    for path, schema in zip(files[1:], schemas[1:], strict=True):
        if schema.names() != first.names():
            raise InputError(f"{path}: its columns differ from those of {files[0]}")
        for name, dtype in schema.items():
            if dtype != first[name]:
                raise InputError(f"{path}: column {name!r} holds {dtype}, but {first[name]} in {files[0]}")


def _check_partitions(files: list[Path], schema: pl.Schema) -> None:
    """Refuse a partition folder (``service_date=2016-05-05/``) named after a column its files hold: polars
    would put the folder's value in place of every row's own."""
    for path in files:
        for part in path.parent.parts:
            key = part.split("=")[0] if "=" in part else None
            if key in schema:
                raise InputError(f"{path}: its folder {part!r} names the column {key!r}, which the file holds too, "
                                 "and would replace the rows' own values; give the files themselves (not their "
                                 "folder) or rename the folder")


def _scan_local(paths: Sequence[PathSource]) -> tuple[pl.LazyFrame, str]:
    files, root_keys = _files(paths)
    kinds = sorted({_kind(str(f)) for f in files})
    if len(kinds) > 1:
        raise InputError(f"{', '.join(os.fspath(p) for p in paths)}: holds both parquet and CSV files; give one kind")
    schemas = [_file_schema(f) for f in files]
    _check_alike(files, schemas)
    name = str(files[0]) if len(files) == 1 else f"{files[0]} and {len(files) - 1} more"
    try:
        if kinds == ["csv"]:  # CSV columns stay text, so "0010" keeps its leading zeros
            frame = scan_csv_files(files, infer_schema=False, new_columns=schemas[0].names())
        else:  # partition folders (year=2023/) become columns, as polars reads a partitioned data set
            given_folders = any(Path(p).is_dir() or (glob.has_magic(str(p)) and not Path(p).is_file())
                                for p in paths)
            if given_folders:
                _check_partitions(files, schemas[0])
            frame = scan_parquet_files(files, hive_partitioning=given_folders)
            hive_from_root = [k for k in dict.fromkeys(root_keys) if k not in schemas[0] and given_folders]
            frame = frame.drop(hive_from_root, strict=False)
        frame.collect_schema()
    except pl.exceptions.PolarsError as exc:
        raise InputError(f"{name}: cannot read it: {first_line(exc)}") from None
    return frame, name


def _scan_uris(uris: list[str], storage_options: Mapping[str, Any] | None) -> tuple[pl.LazyFrame, str]:
    """URIs (``s3://``, ``gs://``, ``az://``, ``file://`` ...) go to polars' scanners unchanged, with the
    ``storage_options``: polars expands their globs and folders, and reads hive partitions."""
    kinds = {_kind(u.rstrip("/")) for u in uris}
    name = ", ".join(uris)
    options = dict(storage_options) if storage_options else None
    # polars warns of what it guessed (an S3 region) before it fails: the warnings are kept for a success only, so
    # that a failure is one line.
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        try:
            if kinds == {"csv"}:
                frame = pl.scan_csv(uris, infer_schema=False, storage_options=options)
            elif kinds == {"parquet"}:
                frame = pl.scan_parquet(uris, hidden_file_prefix=list(HIDDEN), storage_options=options)
            else:
                raise InputError(f"{name}: mixes parquet and CSV; give one kind")
            frame.collect_schema()
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise InputError(f"{name}: cannot read it: {first_line(exc)}") from None
    for warning in warned:
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    return frame, name


def read_source(source: Source, storage_options: Mapping[str, Any] | None = None) -> tuple[pl.LazyFrame, str]:
    """The source as one LazyFrame, and a name for messages.  Only schemas are read here (file footers
    and headers); an Arrow stream is read into memory, since a stream can be read only once."""
    if isinstance(source, pl.LazyFrame):
        return source, "the input frame"
    if isinstance(source, pl.DataFrame):
        return source.lazy(), "the input frame"
    if isinstance(source, (str, os.PathLike)):
        paths: list[PathSource] = [source]
    elif isinstance(source, (list, tuple)) and source and all(isinstance(p, (str, os.PathLike)) for p in source):
        paths = list(source)
    elif isinstance(source, ArrowStream):
        try:
            return pl.DataFrame(source).lazy(), f"the input {type(source).__name__}"
        except (pl.exceptions.PolarsError, TypeError, ValueError) as exc:
            raise InputError(f"the input {type(source).__name__}: cannot read it: {first_line(exc)}") from None
    else:
        raise TypeError(f"cannot screen a {type(source).__name__}: expected {ACCEPTED}")
    uris = [os.fspath(p) for p in paths if _is_uri(os.fspath(p))]
    if uris and len(uris) != len(paths):
        raise InputError(f"{', '.join(os.fspath(p) for p in paths)}: mixes URIs and local paths; give URIs for all")
    return _scan_uris(uris, storage_options) if uris else _scan_local(paths)


def check_csv_rows(source: Source) -> None:
    """Refuse a local CSV file with a line of more or fewer fields than its header (polars pads a short one
    with nulls).  Reads each CSV file of ``source`` once, as lines; files with quoted line breaks are left
    to polars."""
    if isinstance(source, (str, os.PathLike)):
        paths: list[PathSource] = [source]
    elif isinstance(source, (list, tuple)):
        paths = list(source)
    else:
        return
    if any(_is_uri(os.fspath(p)) for p in paths):
        return
    for path in _files(paths)[0]:
        if _kind(str(path)) != "csv":
            continue
        fields = len(_csv_header(path))
        lines = scan_csv_files(path, has_header=False, separator="\x00", quote_char=None, infer_schema=False,
                               new_columns=["line"], truncate_ragged_lines=True, empty_string_is_null=False)
        line = pl.col("line")
        # Lines whose commas don't give the header's fields, or that hold quotes (few): counted with care below.
        suspects = (lines.with_row_index("line_no", offset=1)
                    .filter((line.str.count_matches(",", literal=True) + 1 != fields)
                            | line.str.contains('"', literal=True)).collect())
        if suspects.filter(line.str.count_matches('"', literal=True) % 2 == 1).height:
            continue  # a quoted line break: lines are not rows, polars is left to read it
        # The fields of a line: its commas outside quotes, plus one.
        bad = suspects.filter(line.str.replace_all(r'"[^"]*"', "").str.count_matches(",", literal=True) + 1 != fields)
        if bad.height:
            line_no, text = bad.row(0)
            found = len(next(csv.reader([text]), []))
            raise InputError(f"{path}, line {line_no}: {found} fields, but the header has {fields} (a ragged CSV)")
