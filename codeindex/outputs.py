"""Writing a screen's output: in the format its name asks for, atomically, and never over the wrong thing.

A run writes into a private directory beside the output (``.OUT.<pid>.<random>.partial/``) and renames
the finished file into place, so a failed, interrupted or killed run leaves the previous output (or
none) and never a half-written one.  A directory rather than a temporary file because a sink that is
still finishing when an error arrives can re-create a file after it was removed, but cannot re-create
a file in a directory that is gone.  A run removes the partial directories that runs of the same output
left when they were killed (their process is gone).  Only a regular file or a new path is replaced:
``-o /dev/null`` is refused rather than turned into a file.

Every format is written from the parquet this run wrote (CSV, NDJSON and Excel are converted from it),
and the summary is computed from that same file, never re-read from the output path another run may
have replaced meanwhile.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import secrets
import shutil
import stat
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from codeindex.errors import InputError, OutputError, first_line
from codeindex.extras import install_hint
from codeindex.files import scan_parquet_files
from codeindex.screen.source import not_utf8

FORMATS = {".parquet": "parquet", ".csv": "csv", ".xlsx": "xlsx", ".ndjson": "ndjson", ".jsonl": "ndjson"}
LIST_SEPARATOR = "; "  # list columns as text in CSV and Excel
EXCEL_MAX_LINES = 1_048_575  # rows of an Excel sheet, less its header
METADATA_KEY = "codeindex"  # the parquet key-value metadata entry that says how the output was made

# Partial directories of runs that are still going: removed by the signal handler before the process exits.
LIVE_PARTIALS: set[Path] = set()
PUBLISHED: list[Path] = []  # the outputs this process has put in place, which a message on a signal names

# Messages of the operating system's write errors: a failed sink with one of these is the output's fault.
_WRITE_ERRORS = re.compile(r"no space left|disk quota|file too large|read-only file system|os error (28|122|27|30)\b",
                           re.IGNORECASE)


def output_format(path: str, given: str | None = None) -> str:
    """The format of an output: ``given`` (``--format``), else the path's suffix; an unknown suffix is an error."""
    suffix = Path(path).suffix.lower()
    if not given and suffix not in FORMATS:
        known = ", ".join(FORMATS)
        raise OutputError(f"{path}: unknown output format {suffix or '(no suffix)'!r}: name it {known}, "
                          "or give --format")
    fmt = given or FORMATS[suffix]
    if fmt == "xlsx" and importlib.util.find_spec("xlsxwriter") is None:
        raise OutputError(f"{path}: Excel output needs the report extra ({install_hint('report')})")
    return fmt


def check_output(path: str, inputs: Sequence[Path] = (), *, replace_input: bool = False) -> Path:
    """The output path, refused (one line) when it cannot or must not be replaced: empty, a directory, a device
    or other non-regular file, under a regular file, or one of the input files (unless ``replace_input``)."""
    if not path.strip():
        raise OutputError("the output path is empty")
    output = Path(path)
    if (shown := not_utf8(output)) is not None:
        raise OutputError(f"{shown}: its name is not UTF-8, which polars cannot write; rename it")
    try:
        info = os.stat(output)
    except FileNotFoundError:
        info = None
    except OSError as exc:  # e.g. a path under a regular file: NotADirectoryError
        raise OutputError(f"{output}: cannot write it: {exc.strerror or first_line(exc)}") from None
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise OutputError(f"{output}: is a directory; give a file name for the output")
    if info is not None and not stat.S_ISREG(info.st_mode):
        raise OutputError(f"{output}: is not a regular file (a device, pipe or socket); only a regular file or "
                          "a new path is replaced")
    if info is not None and not replace_input:
        for given in inputs:
            with contextlib.suppress(OSError):
                if os.path.samefile(given, output):
                    raise OutputError(f"{output}: is an input file; write the output elsewhere "
                                      "(or pass --replace-input)")
    for parent in output.absolute().parents:  # the nearest existing ancestor must be a directory
        if parent.exists():
            if not parent.is_dir():
                raise OutputError(f"{output}: cannot write it: {parent} is not a directory")
            break
    return output


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def remove_stale_partials(output: Path) -> list[Path]:
    """Remove the partial directories that killed runs of ``output`` left (their process is gone)."""
    removed = []
    for candidate in output.parent.glob(f".{glob_escape(output.name)}.*.partial"):
        match = re.fullmatch(rf"\.{re.escape(output.name)}\.(\d+)\.\w+\.partial", candidate.name)
        if match and candidate.is_dir() and not _pid_alive(int(match.group(1))):
            shutil.rmtree(candidate, ignore_errors=True)
            removed.append(candidate)
    return removed


def glob_escape(name: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", name)


def remove_partial(directory: Path) -> None:
    """Remove a partial directory, even while a late writer still adds a file to it."""
    for _ in range(5):
        shutil.rmtree(directory, ignore_errors=True)
        if not directory.exists():
            break
    LIVE_PARTIALS.discard(directory)


@contextlib.contextmanager
def partial_directory(output: Path) -> Iterator[Path]:
    """A private directory beside ``output`` for this run's files; removed when the block ends, whatever happens."""
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_partials(output)
        directory = output.parent / f".{output.name}.{os.getpid()}.{secrets.token_hex(4)}.partial"
        directory.mkdir()
    except OSError as exc:
        raise OutputError(f"{output}: cannot write it: {exc.strerror or first_line(exc)}") from None
    LIVE_PARTIALS.add(directory)
    try:
        yield directory
    finally:
        remove_partial(directory)


def write_error(output: Path, exc: BaseException) -> OutputError | None:
    """The output's error for a failed write, or None when the failure is not the output's (e.g. bad input)."""
    if isinstance(exc, OSError) or _WRITE_ERRORS.search(str(exc)):
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else first_line(exc)
        return OutputError(f"{output}: cannot write it: {reason}")
    return None


def sink_parquet(plan: pl.LazyFrame, path: Path, metadata: dict[str, object] | None = None) -> None:
    """Stream ``plan`` into a parquet file, with how it was made under the ``codeindex`` metadata key."""
    extra = {METADATA_KEY: json.dumps(metadata, sort_keys=True)} if metadata else None
    plan.sink_parquet(path, metadata=extra)


def read_metadata(path: str | Path) -> dict[str, Any]:
    """How a codeindex parquet output was made (empty for other parquet files); metadata under the ``codeindex``
    key that is not a JSON object is an ``InputError`` naming the file."""
    text = pl.read_parquet_metadata(path).get(METADATA_KEY)
    if not text:
        return {}
    try:
        made = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        made = None
    if not isinstance(made, dict) or not all(isinstance(made.get(k, {}), dict) for k in ("input", "policy")):
        raise InputError(f"{path}: its {METADATA_KEY!r} metadata is damaged (not the object a screen writes); "
                         "screen the input again")
    return made


def as_text_table(frame: pl.LazyFrame) -> pl.LazyFrame:
    """The output with list columns as text, for CSV and Excel, which have no lists: a list of values joined
    ("; "), a list of structs (a library's ``findings``) as a JSON array."""
    schema = frame.collect_schema()
    return frame.with_columns(_as_text(name, dtype) for name, dtype in schema.items() if isinstance(dtype, pl.List))


def _as_text(name: str, dtype: pl.List) -> pl.Expr:
    column = pl.col(name)
    if isinstance(dtype.inner, pl.Struct):  # each struct as a JSON object, the list as a JSON array
        objects = column.list.eval(pl.element().struct.json_encode()).list.join(",")
        return pl.concat_str(pl.lit("["), objects, pl.lit("]")).alias(name)
    if dtype.inner != pl.String:
        column = column.cast(pl.List(pl.String))
    return column.list.join(LIST_SEPARATOR).alias(name)


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet may run as a formula (OWASP, CSV injection)
_FORMULA_START = "^[=+\\-@\t\r]"


def neutralized(text: str) -> str:
    """A CSV cell's text as written: one that a spreadsheet would run as a formula gets a leading ``'``, as OWASP's
    CSV injection guidance says (the cell then shows as text).

    >>> neutralized("=SUM(A1:A9)"), neutralized("-5"), neutralized("800.00")
    ("'=SUM(A1:A9)", "'-5", '800.00')
    """
    return f"'{text}" if text.startswith(FORMULA_START) else text


def _neutralized(column: pl.Expr) -> pl.Expr:
    return pl.when(column.str.contains(_FORMULA_START)).then(pl.concat_str(pl.lit("'"), column)).otherwise(column)


def csv_table(frame: pl.LazyFrame) -> pl.LazyFrame:
    """The output as CSV text cells: lists as text, and every text cell (and column name) a spreadsheet would run
    as a formula neutralized (``neutralized``); numbers and dates are written as they are."""
    text = as_text_table(frame)
    schema = text.collect_schema()
    cells = [_neutralized(pl.col(name).cast(pl.String)).alias(name) for name, dtype in schema.items()
             if dtype in (pl.String, pl.Categorical) or isinstance(dtype, (pl.Enum, pl.Categorical))]
    return text.with_columns(cells).rename({name: neutralized(name) for name in schema.names()})


SummaryRows = list[tuple[str, int | float | str]]


def convert(parquet: Path, fmt: str, destination: Path, summary_rows: SummaryRows | None = None) -> None:
    """Write the lines of ``parquet`` to ``destination`` in ``fmt`` (csv, ndjson or xlsx)."""
    lines = scan_parquet_files(parquet)
    if fmt == "csv":
        csv_table(lines).sink_csv(destination)
    elif fmt == "ndjson":
        lines.sink_ndjson(destination)
    elif fmt == "xlsx":
        _write_excel(lines, destination, summary_rows or [])
    else:
        raise OutputError(f"{destination}: unknown output format {fmt!r}")


EXCEL_MAX_TEXT = 32_767  # characters in an Excel cell
EXACT_IN_EXCEL = 2 ** 53  # integers of more magnitude than this are not exact as Excel's numbers
# Cells as written: text never read as a formula, a link or a number; a NaN or infinite number as an error cell.
EXCEL_OPTIONS = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False,
                 "nan_inf_to_errors": True}


def check_format(schema: pl.Schema, fmt: str, lines: int | None, output: Path) -> None:
    """Refuse, before any work, an output whose columns (or, for Excel, lines) the format cannot hold as they are:
    binary columns in NDJSON or Excel, two column names equal but for case or more lines than a sheet holds in
    Excel."""
    binary = [name for name, dtype in schema.items() if dtype == pl.Binary]
    if binary and fmt in ("ndjson", "xlsx"):
        raise OutputError(f"{output}: column {binary[0]!r} holds binary data, which {fmt} cannot hold; write "
                          ".parquet instead (or drop the column)")
    if fmt != "xlsx":
        return
    folded: dict[str, str] = {}
    for name in schema.names():
        if name.casefold() in folded:
            raise OutputError(f"{output}: columns {folded[name.casefold()]!r} and {name!r} differ only in case, "
                              "which an Excel table cannot hold; rename one (or write .parquet or .csv)")
        folded[name.casefold()] = name
    if lines is not None and lines > EXCEL_MAX_LINES:
        raise OutputError(f"{output}: an Excel sheet holds at most {EXCEL_MAX_LINES:,} lines and this output "
                          f"has {lines:,}; write .parquet or .csv instead")


def excel_cells(frame: pl.DataFrame, destination: Path) -> pl.DataFrame:
    """``frame``'s columns as Excel can hold them without loss: categoricals as text, times with a time zone as
    text with their offset, integers beyond 2**53 as their digits; text longer than a cell holds is an error
    naming its column and line."""
    columns = []
    for name, dtype in frame.schema.items():
        column = pl.col(name)
        if isinstance(dtype, (pl.Categorical, pl.Enum)):
            columns.append(column.cast(pl.String))
        elif isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
            columns.append(column.dt.to_string("%Y-%m-%d %H:%M:%S%.f%:z"))
        elif dtype in (pl.Int64, pl.UInt64) and (frame[name].cast(pl.Int128).abs() > EXACT_IN_EXCEL).any():
            columns.append(column.cast(pl.String))
    frame = frame.with_columns(columns)
    for name, dtype in frame.schema.items():
        if dtype == pl.String:
            too_long = frame[name].str.len_chars() > EXCEL_MAX_TEXT
            if too_long.any():
                line = int(too_long.arg_true()[0])
                raise OutputError(f"{destination}: column {name!r}, line {line + 1:,}: text of "
                                  f"{len(frame[name][line]):,} characters, more than an Excel cell holds "
                                  f"({EXCEL_MAX_TEXT:,}); write .parquet or .csv instead")
    return frame


def _write_excel(lines: pl.LazyFrame, destination: Path, summary_rows: SummaryRows) -> None:
    from xlsxwriter import Workbook  # present: output_format checked it before any work
    check_format(lines.collect_schema(), "xlsx", lines.select(pl.len()).collect().item(), destination)
    frame = excel_cells(as_text_table(lines).collect(), destination)
    with Workbook(destination, EXCEL_OPTIONS) as workbook:
        frame.write_excel(workbook, worksheet="lines", autofit=False)
        sheet = workbook.add_worksheet("summary")
        count, money = workbook.add_format({"num_format": "#,##0"}), workbook.add_format({"num_format": "#,##0.00"})
        sheet.write_string(0, 0, "summary")
        sheet.write_string(0, 1, "value")
        for row, (name, value) in enumerate(summary_rows, start=1):  # numbers as numbers: a manager adds them
            sheet.write_string(row, 0, name)
            if isinstance(value, str):
                sheet.write_string(row, 1, value[:EXCEL_MAX_TEXT])
            else:
                sheet.write_number(row, 1, value, count if isinstance(value, int) else money)
        sheet.set_column(0, 0, max([len(name) for name, _ in summary_rows] + [10]))
        sheet.set_column(1, 1, 18)


# A file made beside the output from the summary and the lines written (the summary JSON, the report, the
# worklist): its path, and what writes it to a temporary path given the summary and the lines.
Extra = tuple[Path, Callable[[dict[str, Any], pl.LazyFrame, Path], None]]


def text_extra(path: Path, render: Callable[[dict[str, Any]], str]) -> Extra:
    """An extra that is a text drawn from the summary (the summary JSON, the report)."""
    def write(summary: dict[str, Any], _lines: pl.LazyFrame, target: Path) -> None:
        target.write_text(render(summary), encoding="utf-8")

    return path, write


def worklist_extra(path: Path) -> Extra:
    """An extra that is every flagged line (not_covered, review, or an edit) of the output, as CSV (neutralized
    as the CSV output is): the reviewer's worklist beside the report's examples."""
    def write(_summary: dict[str, Any], lines: pl.LazyFrame, target: Path) -> None:
        flagged = pl.col("determination").is_in(["not_covered", "review"]) | (pl.col("edits").list.len() > 0)
        csv_table(lines.filter(flagged)).sink_csv(target)

    return path, write


def write_output(plan: pl.LazyFrame, output: Path, fmt: str = "parquet", *, metadata: dict[str, object] | None = None,
                 summarize: Callable[[pl.LazyFrame], dict[str, Any]] | None = None,
                 sheet: Callable[[dict[str, Any]], SummaryRows] | None = None,
                 extras: Sequence[Extra] = (),
                 phase: Callable[[str], None] | None = None) -> dict[str, Any] | None:
    """Write ``plan`` to ``output`` in ``fmt``, with the ``extras`` made from its summary, all or none; return
    ``summarize`` of what was written.

    The lines are streamed into a parquet file in a private partial directory; the summary is
    computed from that file; other formats are converted from it (Excel with a ``sheet`` of the
    summary); each extra is written in a partial directory beside itself; then every finished file
    is renamed into place, one after the other, only once all are made.  So a failure or a signal
    before that leaves every previous output as it was.  A failed write names its file; an error
    from the input while streaming is raised as it came (the caller names the input).
    """
    schema = plan.collect_schema()
    check_format(schema, fmt, plan.select(pl.len()).collect().item() if fmt == "xlsx" else None, output)  # before work
    with contextlib.ExitStack() as partials:
        directory = partials.enter_context(partial_directory(output))
        lines = directory / "lines.parquet"
        try:
            sink_parquet(plan, lines, metadata)
        except (OSError, pl.exceptions.PolarsError) as exc:
            raise (write_error(output, exc) or exc) from None
        if phase:
            phase("summarizing")
        summary = summarize(scan_parquet_files(lines)) if summarize else None
        finished = [(lines, output)]
        try:
            if fmt != "parquet":
                if phase:
                    phase(f"writing {fmt}")
                finished = [(directory / output.name, output)]
                convert(lines, fmt, finished[0][0], sheet(summary) if sheet and summary else None)
        except (OSError, pl.exceptions.PolarsError) as exc:
            raise (write_error(output, exc) or OutputError(f"{output}: cannot write it: {first_line(exc)}")) \
                from None
        for path, make in extras:
            temporary = partials.enter_context(partial_directory(path)) / path.name
            try:
                make(summary or {}, scan_parquet_files(lines), temporary)
            except (OSError, pl.exceptions.PolarsError) as exc:
                raise (write_error(path, exc) or OutputError(f"{path}: cannot write it: {first_line(exc)}")) \
                    from None
            finished.append((temporary, path))
        for temporary, path in finished:  # every file made: now they take their places
            try:
                publish(temporary, path)
            except OSError as exc:
                raise OutputError(f"{path}: cannot write it: {exc.strerror or first_line(exc)}") from None
    return summary


def write_atomically(plan: pl.LazyFrame, output: Path) -> None:
    """Stream ``plan`` into a parquet file at ``output``, atomically (the library's way to write a screen)."""
    write_output(plan, check_output(str(output)), "parquet")


def publish(temporary: Path, output: Path) -> None:
    """Give a finished file the usual permissions and rename it into place (atomic on one file system)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temporary, 0o666 & ~umask)
    os.replace(temporary, output)
    PUBLISHED.append(output)


def write_text_atomically(path: Path, text: str) -> None:
    """Write a small text file (a JSON summary, an HTML report) as outputs are written: whole or not at all."""
    check_output(str(path))
    with partial_directory(path) as directory:
        temporary = directory / path.name
        try:
            temporary.write_text(text, encoding="utf-8")
            publish(temporary, path)
        except OSError as exc:
            raise OutputError(f"{path}: cannot write it: {exc.strerror or first_line(exc)}") from None
