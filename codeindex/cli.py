"""The ``codeindex`` command: a thin shell over the library.

Every error a user can cause ends in one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import re
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from codeindex.codesets import code_set, defined_in, has_code_set, release_on
from codeindex.data import data_path
from codeindex.errors import InputError, InvalidCodeError, OutputError, PolicyParseError, first_line
from codeindex.extras import install_hint
from codeindex.files import scan_parquet_files
from codeindex.outputs import (
    FORMATS,
    LIVE_PARTIALS,
    PUBLISHED,
    Extra,
    check_output,
    output_format,
    partial_directory,
    publish,
    read_metadata,
    remove_partial,
    text_extra,
    worklist_extra,
    write_output,
    write_text_atomically,
)
from codeindex.policy import Policy, bundled_policies, load_policies, load_policy, lookup_code, read_policy_file
from codeindex.policy.bulletin import format_cpb, group_header
from codeindex.policy.gem import translate
from codeindex.policy.model import ERA_NAMES
from codeindex.policy.ncci import NcciTables, load_ncci
from codeindex.ranges import parse_range
from codeindex.screen import LAYOUTS, claim_lines, screen
from codeindex.screen.layouts import LineColumns
from codeindex.screen.line import service_date
from codeindex.screen.source import input_files
from codeindex.screen.summary import policy_identity, print_summary, summarize, summary_rows, terminal
from codeindex.synth import write_sample
from codeindex.systems import ALIASES, SYSTEMS, parse_code

SYSTEM_CHOICES = sorted([*SYSTEMS, *ALIASES])


class UsageError(Exception):
    """A user mistake the CLI reports in one line with exit status 2."""


def _normalize(args: argparse.Namespace) -> int:
    day = None if args.date is None else _parse_date(args.date)
    for text in args.codes:
        record: dict[str, object] = {"input": text, "system": None, "valid": False, "short": None,
                                     "decimal": None, "defined": None, "billable": None, "error": None,
                                     "release": None, "defined_in": None, "note": None}
        try:
            code = parse_code(text, args.system)
        except InvalidCodeError as exc:
            record["system"] = ALIASES.get(args.system, args.system)
            record["error"] = str(exc)
        else:
            record.update(system=code.system, valid=True, short=code.short, decimal=code.decimal)
            if has_code_set(code.system):
                codes = code_set(code.system, on=day)
                record.update(defined=codes.defined(code), billable=codes.billable(code), release=codes.release.name)
                if not codes.defined(code):  # defined in other releases, or never ([])
                    record["defined_in"] = [r.name for r in defined_in(code.system, code)]
                if day is not None and (note := release_on(code.system, day).note):
                    record["note"] = note
        print(json.dumps(record))
    return 0


def _expand(args: argparse.Namespace) -> int:
    code_range = parse_range(args.range, args.system)
    if not has_code_set(code_range.system):
        bundled = ", ".join(name for name in SYSTEMS if has_code_set(name))
        raise UsageError(f"{args.range!r}: no official code set of {code_range.system} is bundled to expand it "
                         f"(CPT is the AMA's); expand works on {bundled}")
    day = None if args.date is None else _parse_date(args.date)
    codes = code_set(code_range.system, on=day)
    for code in codes.expand(code_range, parents=args.all):
        print(f"{code.decimal}\t{codes.description(code) or ''}")  # ICD-9 parents have no description
    return 0


def _policy_parse(args: argparse.Namespace) -> int:
    policy = read_policy_file(args.file)  # what load_policy(FILE) gives: its JSON loads back to an equal policy
    if args.json:
        print(json.dumps(policy.to_json(), indent=2))
    else:
        _print_policy(policy)
    return 0


def _print_policy(policy: Policy) -> None:
    console = terminal()
    console.print(Text.assemble((policy.name(), "bold"), f": {policy.title or ''}"))
    for version in policy.versions:
        for group in version.groups:
            table = Table(title=f"{ERA_NAMES[version.era]} version: {group_header(group)}",
                          title_justify="left", show_lines=False)
            table.add_column("code / range", no_wrap=True)
            table.add_column("add-on")
            table.add_column("description")
            for entry in group.entries:
                table.add_row(str(entry.range), "+" if entry.add_on else "", entry.description)
            console.print(table)


def _policy_list(args: argparse.Namespace) -> int:
    """The bundled policies, or every bulletin of a directory: a table on a terminal, else tab-separated
    lines (id, title, eras, revision, effective date, groups, entries)."""
    bundled = args.directory is None
    policies = load_policies(bundled_policies()) if bundled else load_policies(directory=args.directory)
    rows = [(p.id or "", p.title or "", ", ".join(ERA_NAMES[v.era] for v in p.versions), p.revision or "",
             p.effective.isoformat() if p.effective else "", str(sum(len(v.groups) for v in p.versions)),
             str(sum(len(g.entries) for v in p.versions for g in v.groups))) for p in policies]
    if not sys.stdout.isatty():
        for row in rows:  # the eras in brackets, as this command has always printed them
            print("\t".join(" ".join(cell.split()) for cell in (*row[:2], f"({row[2]})", *row[3:])))
        return 0
    table = Table(title=f"{len(rows)} {'policy' if len(rows) == 1 else 'policies'}"
                  + (f" in {args.directory}" if args.directory else " (bundled)"), title_justify="left")
    for column in ("id", "title", "eras", "revision", "effective", "groups", "entries"):
        table.add_column(column, justify="right" if column in ("groups", "entries") else "left",
                         no_wrap=column != "title")
    for row in rows:
        table.add_row(*row)
    terminal().print(table)
    return 0


def _policy_show(args: argparse.Namespace) -> int:
    _print_policy(load_policy(args.policy))
    return 0


def _policy_translate(args: argparse.Namespace) -> int:
    policy = load_policy(args.policy)
    try:
        translation = translate(policy, to=args.to)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.write:
        translated = replace(policy, versions=(translation.version,))
        as_json = Path(args.write).suffix.lower() == ".json"
        text = json.dumps(translated.to_json(), indent=2) + "\n" if as_json else format_cpb(translated)
        write_text_atomically(Path(args.write), text)
    console = terminal()
    table = Table(title=f"{policy.name()}: ICD-9 diagnosis groups translated to ICD-10-CM through the GEMs",
                  title_justify="left")
    for column in ("group", "translated", "approximate", "in the bulletin's ICD-10 list",
                   "translated only", "bulletin only"):
        table.add_column(column, justify="left" if column == "group" else "right")
    for c in translation.comparisons:
        bulletin = "-" if c.bulletin is None else len(c.bulletin)
        table.add_row(c.coverage, f"{len(c.translated):,}", f"{len(c.approximate):,}",
                      bulletin if isinstance(bulletin, str) else f"{bulletin:,}",
                      f"{len(c.only_translated):,}", f"{len(c.only_bulletin):,}")
    console.print(table)
    for c in translation.comparisons:
        for name, codes in (("translated, not in the bulletin", c.only_translated),
                            ("in the bulletin, not translated", c.only_bulletin)):
            if codes:
                shown = ", ".join(codes[: args.show])
                more = f" ... and {len(codes) - args.show:,} more" if len(codes) > args.show else ""
                console.print(f"{c.coverage}, {name} ({len(codes):,}): {shown}{more}")
    if translation.followed:
        replaced = {t: codes for t, codes in translation.followed.items() if codes}
        kept = translation.unreplaced
        console.print(f"GEM targets not billable in {translation.release}: {len(translation.followed):,}; "
                      f"{len(replaced):,} followed to the {len({c for v in replaced.values() for c in v}):,} codes "
                      f"that replaced them, {len(kept):,} that nothing replaced kept as written"
                      + (f": {', '.join(kept[: args.show])}" if kept else ""))
    if args.write:
        console.print(f"wrote the translated policy to {args.write}")
    return 0


def _lookup(args: argparse.Namespace) -> int:
    policy = load_policy(args.policy)
    day = _parse_date(args.date) if args.date else None
    for text in args.codes:
        found = lookup_code(policy, text, args.system, day)
        matches = [{"policy": policy.id, "version": h.version.era,
                    "group": h.group.header or group_header(h.group), "coverage": h.group.coverage,
                    "range": str(h.entry.range), "match": h.match} for h in found.hits]
        print(json.dumps({"input": text, "system": found.system, "valid": found.valid, "error": found.error,
                          "edits": found.edits, "matches": matches}))
    return 0


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--date {text!r}: expected YYYY-MM-DD") from None


def _screen(args: argparse.Namespace) -> int:
    columns = {k: v for k, v in (("claim_id", args.claim_id), ("procedure", args.procedure), ("dx", args.dx),
                                 ("date", args.date), ("amount", args.amount), ("modifiers", args.modifier),
                                 ("date_format", args.date_format), ("provider", args.provider),
                                 ("member", args.member), ("units", args.units)) if v}
    if columns and args.layout != "long":
        raise UsageError("column options apply to the long layout only")
    started = time.perf_counter()
    if args.engine == "spark":
        return _screen_on_spark(args, columns, started)
    inputs = input_files(args.inputs)
    output = check_output(args.output, inputs, replace_input=args.replace_input)  # before any work
    fmt = output_format(args.output, args.format)
    extras = [check_output(path, [*inputs, output]) for path in (args.summary_json, args.report, args.worklist)
              if path]
    if args.worklist and Path(args.worklist).suffix.lower() != ".csv":
        raise UsageError(f"--worklist {args.worklist}: the worklist is CSV; name it .csv")
    if args.report:
        from codeindex.report import check_available

        check_available()
    if len({p.absolute() for p in (output, *extras)}) < 1 + len(extras):
        raise UsageError("-o, --summary-json, --report and --worklist must name different files")
    policy = _policies(args)
    ncci = _ncci(args)  # before any line
    rows, cols = claim_lines(args.inputs, args.layout, **columns)
    check_amount(rows, cols, ", ".join(args.inputs))
    check_dates(rows, cols, ", ".join(args.inputs))
    note_amount(rows, cols)
    roles: dict[str, Any] = {"claim_id": cols.claim_id, "procedure": cols.procedure, "date": cols.date,
                             "amount": cols.amount, "dx": list(cols.dx), "date_format": cols.date_format,
                             "provider": cols.provider, "member": cols.member, "units": cols.units}
    made: dict[str, Any] = {"input": {"files": [_file_identity(f) for f in inputs], "layout": args.layout,
                                      "columns": roles}}
    if ncci is not None:
        made["ncci"] = {"setting": args.ncci_setting, "fingerprint": ncci.fingerprint,
                        "files": [{"name": name, "sha256": sha256} for name, sha256, *_ in ncci.files]}
    identity = {**made, "output": {"path": str(output), "format": fmt}}
    with _progress() as progress:
        # Each phase is a task of its own, so each has its clock running from its start (a finished task's clock
        # stops: the lines written, then summarizing, converting, drawing the report).
        current = [progress.add_task("reading and classifying", total=None)]

        def phase(name: str, total: int | None = None) -> None:
            progress.refresh()  # the phase's last state is drawn (10,000/10,000 lines) before the next starts
            progress.remove_task(current[0])
            current[0] = progress.add_task(name, total=total)

        try:
            library = _with_ncci(policy, ncci)
            plan = screen(args.inputs, policy=library, layout=args.layout, icd_version=args.icd_version,
                          edits=args.edits, streaming=_streaming(args, inputs), ncci_setting=args.ncci_setting,
                          **columns)
            if not progress.disable:  # on a terminal: count the lines as they are written
                phase("screening and writing", total=plan.select(pl.len()).collect().item())

                def count_written(batch: pl.DataFrame) -> pl.DataFrame:
                    progress.advance(current[0], batch.height)
                    return batch

                plan = plan.map_batches(count_written, streamable=True, schema=plan.collect_schema())

            def summary_of(written: pl.LazyFrame) -> dict[str, object]:
                return summarize(written, policy, roles, seconds=time.perf_counter() - started, identity=identity)

            summary = write_output(plan, output, fmt, metadata={"policy": policy_identity(policy), **made},
                                   summarize=summary_of, sheet=summary_rows,
                                   extras=_extras(args, phase), phase=phase)
        except pl.exceptions.PolarsError as exc:  # unreadable content found while streaming the input
            raise InputError(f"{', '.join(args.inputs)}: cannot read it: {first_line(exc)}") from None
        assert summary is not None
    print_summary(summary)
    for path in (output, *extras):
        terminal().print(f"wrote {path}")
    terminal().print(f"the whole run took {time.perf_counter() - started:,.2f} s (the screen's part is the "
                     "summary's first line)")
    return 0


def _policies(args: argparse.Namespace) -> Policy | list[Policy]:
    """The policy of ``--policy``, or the library of several ``--policy`` and ``--policies DIR``."""
    given = args.policy or ([] if args.policies else ["0198"])
    policies = load_policies(given, args.policies)
    return list(policies) if len(given) > 1 or args.policies else policies[0]


def _ncci(args: argparse.Namespace) -> NcciTables | None:
    """The NCCI tables of ``--ncci`` (read, or taken from the cache), or None without it."""
    return load_ncci(args.ncci) if args.ncci else None


def _with_ncci(policy: Policy | list[Policy], ncci: NcciTables | None) -> Policy | Sequence[Policy | NcciTables]:
    """The policy or library to screen: with NCCI tables, a library of the policies and the tables."""
    if ncci is None:
        return policy
    return [*(policy if isinstance(policy, list) else [policy]), ncci]


def _screen_on_spark(args: argparse.Namespace, columns: dict[str, Any], started: float) -> int:
    if args.format not in (None, "parquet") or args.summary_json or args.report:
        raise UsageError("--engine spark writes a directory of parquet parts; --format, --summary-json and "
                         "--report apply to the polars engine (run codeindex summary/report on a part)")
    try:
        from codeindex import spark
    except ImportError as exc:
        raise UsageError("--engine spark needs the spark extra "
                         f"({install_hint('spark')}): {exc}") from None
    with _progress() as progress:
        progress.add_task("screening on Spark", total=None)
        policy = _policies(args)
        library = _with_ncci(policy, _ncci(args))
        written = spark.screen_files(args.inputs, args.output, master=args.master, policy=library,
                                     layout=args.layout, partitions=args.partitions, icd_version=args.icd_version,
                                     edits=args.edits, ncci_setting=args.ncci_setting, **columns)
    if "://" in args.output:  # remote storage: the lines written are the summary
        terminal().print(f"wrote {written:,} screened lines to {args.output}")
        return 0
    result = scan_parquet_files(input_files([args.output]))  # the parts Spark wrote
    roles = _default_roles(result.collect_schema(), args.layout, columns)
    print_summary(summarize(result, policy, roles, seconds=time.perf_counter() - started))
    terminal().print(f"wrote {args.output}")
    return 0


def _default_roles(schema: pl.Schema, layout: str, columns: dict[str, Any]) -> dict[str, Any]:
    """Which output column holds what, for outputs that do not say it in their metadata."""
    carrier = layout == "synpuf-carrier" or (layout == "auto" and "HCPCS_CD" in schema)
    if carrier:
        return {"procedure": "HCPCS_CD", "claim_id": "CLM_ID", "date": "CLM_FROM_DT", "amount": "LINE_NCH_PMT_AMT"}
    return {"procedure": str(columns.get("procedure", "procedure_code")),
            "claim_id": str(columns.get("claim_id", "claim_id")),
            "date": str(columns.get("date", "service_date")), "amount": str(columns.get("amount", "paid_amount"))}


DATES_CHECKED = 10_000  # the first non-blank text dates a run checks before any work
_DATE_LOOKS = [  # what unreadable dates look like, and the format that reads them
    (r"^\d{1,2}/\d{1,2}/\d{4}$", None),  # US or European: told apart below
    (r"^\d{1,2}-\d{1,2}-\d{4}$", None),
    (r"^\d{4}/\d{1,2}/\d{1,2}$", "%Y/%m/%d"),
    (r"^\d{1,2}-[A-Za-z]{3}-\d{4}$", "%d-%b-%Y"),
    (r"^\d{1,2}/\d{1,2}/\d{2}$", "%m/%d/%y"),
    (r"^\d{4}-\d{2}-\d{2}[T ]\d", "%Y-%m-%dT%H:%M:%S"),
]


def date_hint(examples: list[str]) -> str:
    """What the unreadable text dates look like, and the option that reads them (never a guess between two).

    >>> date_hint(["01/15/2013", "02/01/2013"])
    "they look like MM/DD/YYYY: pass --date-format '%m/%d/%Y'"
    >>> date_hint(["15/01/2013"])
    "they look like DD/MM/YYYY: pass --date-format '%d/%m/%Y'"
    >>> date_hint(["01/02/2013"])
    "they look like MM/DD/YYYY or DD/MM/YYYY: pass --date-format '%m/%d/%Y' (US) or '%d/%m/%Y'"
    """
    for pattern, fmt in _DATE_LOOKS:
        matching = [x for x in examples if re.match(pattern, x)]
        if len(matching) * 2 < len(examples):
            continue
        if fmt is not None:
            return f"they look like {fmt}: pass --date-format '{fmt}'"
        sep = "/" if "/" in matching[0] else "-"
        parts = [[int(p) for p in x.split(sep)[:2]] for x in matching]
        first, second = any(a > 12 for a, _ in parts), any(b > 12 for _, b in parts)
        us, eu = f"%m{sep}%d{sep}%Y", f"%d{sep}%m{sep}%Y"
        shape = f"MM{sep}DD{sep}YYYY"
        if second and not first:
            return f"they look like {shape}: pass --date-format '{us}'"
        if first and not second:
            return f"they look like DD{sep}MM{sep}YYYY: pass --date-format '{eu}'"
        return f"they look like {shape} or DD{sep}MM{sep}YYYY: pass --date-format '{us}' (US) or '{eu}'"
    return "pass --date-format with the format they are written in (polars' str.to_date formats, '%m/%d/%Y')"


def check_dates(rows: pl.LazyFrame, cols: LineColumns, where: str) -> None:
    """Refuse, before any work, a text date column whose first non-blank values are mostly dates that cannot be
    read (values with digits that do not read as YYYY-MM-DD / YYYYMMDD, or with --date-format as that format):
    every line would be screened without its date.  The message says what the values look like and the option
    to pass."""
    if cols.date is None or cols.explode is not None or rows.collect_schema()[cols.date] != pl.String:
        return
    text = pl.col(cols.date).str.strip_chars()
    try:
        sample = (rows.select(text=text, day=service_date(cols.date, pl.String(), where, cols.date_format))
                  .filter(pl.col("text").str.len_bytes() > 0).head(DATES_CHECKED).collect())
    except pl.exceptions.PolarsError as exc:
        raise InputError(f"{where}: cannot read it: {first_line(exc)}") from None
    # Values with digits that do not read: dates written another way (values with no digit are no dates at all,
    # and are flagged invalid_date line by line).
    unread = sample.filter(pl.col("day").is_null() & pl.col("text").str.contains(r"\d"))["text"]
    if sample.height and unread.len() * 2 > sample.height:
        shown = ", ".join(repr(x) for x in unread.head(2).to_list())
        how = f"as {cols.date_format!r}" if cols.date_format else "as YYYY-MM-DD or YYYYMMDD"
        raise InputError(f"{where}: column {cols.date!r}: {unread.len():,} of the first {sample.height:,} dates "
                         f"cannot be read {how} ({shown}); {date_hint(unread.head(100).to_list())}")


def note_amount(rows: pl.LazyFrame, cols: LineColumns) -> None:
    """Say, on stderr, when no amount column was found but one looks like it: the summary would have no money."""
    if cols.amount is not None:
        return
    looks = [n for n in rows.collect_schema().names() if re.search(r"amt|amount|paid|charge", n, re.IGNORECASE)]
    if looks:
        print(f"codeindex screen: note: no amount column (paid_amount), so the summary has no amounts; column "
              f"{looks[0]!r} looks like one: pass --amount {looks[0]}", file=sys.stderr)


def check_amount(rows: pl.LazyFrame, cols: LineColumns, where: str) -> None:
    """An amount column is read when every value is a finite number (or blank; text read as a number); otherwise
    one error naming it, the row and the value."""
    if cols.amount is not None and cols.explode is None:
        check_amount_column(rows, cols.amount, where)


def check_amount_column(rows: pl.LazyFrame, amount: str, where: str) -> None:
    """Refuse an amount column with a value that is not a finite number (a blank is none), naming its row."""
    dtype = rows.collect_schema()[amount]
    if dtype == pl.String:
        text = pl.col(amount).str.strip_chars()
        number = text.cast(pl.Float64, strict=False)
        bad = (text.str.len_bytes() > 0) & ~number.is_finite().fill_null(False)
    elif dtype.is_float():
        bad = ~pl.col(amount).is_finite().fill_null(True)
    else:
        return
    found = rows.with_row_index("row", offset=1).filter(bad).select("row", amount).head(1).collect()
    if found.height:
        row, value = found.row(0)
        raise InputError(f"{where}: column {amount!r} holds {value!r} at row {row:,}, which is not a finite "
                         "number; amounts must be numbers")


def _extras(args: argparse.Namespace, phase: Callable[[str], None]) -> list[Extra]:
    """The files a screen writes beside its output: the summary JSON, the report, the worklist."""
    extras: list[Extra] = []
    if args.summary_json:
        extras.append(text_extra(Path(args.summary_json), lambda summary: json.dumps(
            summary, indent=2, default=str, allow_nan=False) + "\n"))
    if args.report:
        def drawn(summary: dict[str, Any]) -> str:
            phase("writing the report")
            from codeindex.report import render_report

            return render_report(summary)

        extras.append(text_extra(Path(args.report), drawn))
    if args.worklist:
        extras.append(worklist_extra(Path(args.worklist)))
    return extras


def _file_identity(path: Path) -> dict[str, object]:
    try:
        info = path.stat()
    except OSError:
        return {"path": str(path), "bytes": None, "modified": None}
    modified = datetime.fromtimestamp(info.st_mtime, tz=UTC).isoformat(timespec="seconds")
    return {"path": str(path), "bytes": info.st_size, "modified": modified}


class _Lines(ProgressColumn):
    """Lines written of lines screened, with thousands separators; nothing while the phase has no count."""

    def render(self, task: Task) -> Text:
        if task.total is None:
            return Text("")
        return Text(f"{int(task.completed):,}/{int(task.total):,} lines")


class _Quiet(contextlib.AbstractContextManager["_Quiet"]):
    """What a run shows when stderr is no terminal: nothing (no rich live display is started, so no version of
    rich writes a stray line to a captured stderr)."""

    disable = True

    def __exit__(self, *_: object) -> None:
        return None

    def add_task(self, *_: object, **__: object) -> TaskID:
        return TaskID(0)

    def update(self, *_: object, **__: object) -> None:
        return None

    def advance(self, *_: object, **__: object) -> None:
        return None

    def remove_task(self, *_: object) -> None:
        return None

    def refresh(self) -> None:
        return None


def _progress() -> Progress | _Quiet:
    """A progress bar on stderr when it is a terminal (its phase, then lines written); silent otherwise."""
    console = terminal(stderr=True)
    if not console.is_terminal:
        return _Quiet()
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), _Lines(), TimeElapsedColumn(),
                    console=console, transient=True)


STREAMING_ABOVE_BYTES = 200 * 1024 * 1024  # about 10 million claim lines of parquet


def _streaming(args: argparse.Namespace, inputs: list[Path]) -> bool:
    """Stream when asked, or (auto) when the input files are too big to hold comfortably in memory."""
    if args.streaming != "auto":
        return bool(args.streaming == "on")
    return sum(f.stat().st_size for f in inputs) > STREAMING_ABOVE_BYTES


def _summary(args: argparse.Namespace) -> int:
    summary = _summary_of_file(args.output)
    if args.json:
        print(json.dumps(summary, indent=2, default=str, allow_nan=False))
    else:
        print_summary(summary)
    return 0


def _report(args: argparse.Namespace) -> int:
    from codeindex.report import check_available, render_report

    target = check_output(args.report_output, [Path(args.output)])
    check_available()
    summary = _summary_of_file(args.output)
    write_text_atomically(target, render_report(summary))
    terminal().print(f"wrote {target}")
    return 0


def _summary_of_file(path: str) -> dict[str, object]:
    """The summary of an existing parquet output of ``codeindex screen``."""
    try:
        made = read_metadata(path)
        written = scan_parquet_files(path)
        schema = written.collect_schema()
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise InputError(f"{path}: cannot read it as parquet: {first_line(exc)}") from None
    if "determination" not in schema:
        raise InputError(f"{path}: not an output of codeindex screen (no 'determination' column)")
    identity = {**{k: v for k, v in made.items() if k in ("input", "policy")},
                "output": {"path": path, "format": "parquet"}}
    roles = dict(made.get("input", {}).get("columns", {})) or _default_roles(schema, "auto", {})
    if roles.get("amount") in schema:
        check_amount_column(written, roles["amount"], path)
    policy = _policy_used(made.get("policy") or {}, written, path)
    try:
        return summarize(written, policy, roles, identity=identity)
    except pl.exceptions.PolarsError as exc:
        raise InputError(f"{path}: cannot summarize it: {first_line(exc)}") from None


def _policy_used(used: dict[str, Any], written: pl.LazyFrame, path: str) -> Policy | list[Policy]:
    """The policy (or library) an output was screened against, as its metadata records it; an output without
    metadata: the bundled policy its lines name."""
    if not used:
        return load_policy(written.select(pl.col("policy").cast(pl.String).first()).collect().item() or "0198")
    if isinstance(used.get("policies"), list):
        return [_same_policy(each, path) for each in used["policies"] if isinstance(each, dict)]
    return _same_policy(used, path)


def _same_policy(used: dict[str, Any], path: str) -> Policy:
    """The policy an output's metadata records (``used``): the bulletin file it names when that file still holds
    the same policy (its fingerprint), else the bundled policy of its id when that one is the same; otherwise an
    error saying so."""
    fingerprint, source, policy_id = used.get("fingerprint"), used.get("source"), used.get("id")
    candidates = [source] if isinstance(source, str) and Path(source).is_file() else []
    candidates += [policy_id] if policy_id in bundled_policies() else []
    for candidate in candidates:
        try:
            policy = load_policy(candidate)
        except InputError:
            continue
        if fingerprint is None or policy_identity(policy)["fingerprint"] == fingerprint:
            return policy
    raise InputError(f"{path}: the policy it was screened against ({source or policy_id}) is no longer there as it "
                     "was (its file changed or is gone); screen the input again to summarize it")


def _sample(args: argparse.Namespace) -> int:
    output = check_output(args.output)
    source = data_path("sample_claims.parquet")
    with partial_directory(output) as directory:
        try:
            shutil.copyfile(source, directory / output.name)
            publish(directory / output.name, output)
        except OSError as exc:
            raise OutputError(f"{output}: cannot write it: {exc.strerror or first_line(exc)}") from None
    print(f"wrote the sample's {scan_parquet_files(output).select(pl.len()).collect().item():,} lines to "
          f"{output}")
    return 0


def _synth(args: argparse.Namespace) -> int:
    if args.rows < 1:
        raise UsageError(f"--rows {args.rows}: give a positive number")
    output = check_output(args.output)
    try:
        path = write_sample(output, args.rows, layout=args.layout, seed=args.seed)
    except OSError as exc:
        raise OutputError(f"{output}: cannot write it: {exc.strerror or first_line(exc)}") from None
    print(f"wrote {args.rows:,} {'lines' if args.layout == 'long' else 'claims'} to {path}")
    return 0


DESCRIPTION = """Clinical policy bulletin code lists as integer interval indexes, and bulk claim screening
against them.  Errors a user can cause end in one line on stderr and exit status 2."""
# One story, run in an empty folder, each step using what the steps before it wrote (a test runs it as written):
# every subcommand's --help ends with its step, and codeindex --help lists them all.
STORY = {
    "sample": "codeindex sample -o claims.parquet",
    "synth": "codeindex synth --rows 20000 --seed 1 -o more/claims.parquet",
    "screen": "codeindex screen claims.parquet more/ -o out/screened.parquet --summary-json out/summary.json",
    "summary": "codeindex summary out/screened.parquet --json",
    "report": "codeindex report out/screened.parquet -o out/report.html",
    "translate": "codeindex policy translate 0198 --write policies/0198-icd10.json",
    "parse": "codeindex policy parse policies/0198-icd10.json --json",
    "list": "codeindex policy list policies/",
    "show": "codeindex policy show 0198",
    "lookup": "codeindex lookup --system icd9 --date 2014-06-01 80000 V15",
    "normalize": "codeindex normalize --system icd9 800.00 80000 V15",
    "expand": 'codeindex expand --system icd9 "V15.1 - V15.6" --all',
}
EXAMPLES = "examples (one story: each step uses what the steps before wrote):\n" + "\n".join(
    f"  {step}" for step in STORY.values())


def _command(commands: argparse._SubParsersAction[argparse.ArgumentParser], name: str,
             summary: str) -> argparse.ArgumentParser:
    """A subcommand whose --help ends with its step of the story."""
    step = STORY[name]
    return commands.add_parser(name, help=summary, description=summary,
                               epilog=f"example (a step of the story in codeindex --help):\n  {step}",
                               formatter_class=argparse.RawDescriptionHelpFormatter)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="codeindex", description=DESCRIPTION, epilog=EXAMPLES,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version",
                        version=f"%(prog)s {importlib.metadata.version('codeindex-claims')}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    system_help = f"the code system: {', '.join(SYSTEM_CHOICES)} (icd9 = icd9dx, icd10 = icd10cm, cpt = hcpcs)"
    policy_help = f"a bundled policy id ({', '.join(bundled_policies())}) or a bulletin file"

    normalize = _command(commands, "normalize", "parse codes; print one JSON object per code")
    normalize.add_argument("--system", required=True, choices=SYSTEM_CHOICES, metavar="SYSTEM", help=system_help)
    normalize.add_argument("codes", nargs="+", metavar="CODE", help="a code, as written (80000, 800.00, v57.22)")
    normalize.add_argument("--date", help="date of service, YYYY-MM-DD: defined and billable in "
                           "the code-set release in force that day (default: the newest release)")
    normalize.set_defaults(run=_normalize)

    expand = _command(commands, "expand", "list the billable codes of a range, in code order: decimal form and "
                      "description, tab-separated")
    expand.add_argument("--system", required=True, choices=SYSTEM_CHOICES, metavar="SYSTEM", help=system_help)
    expand.add_argument("--all", action="store_true", help="also list defined non-billable parents")
    expand.add_argument("--date", help="date of service, YYYY-MM-DD: the codes of the code-set "
                        "release in force that day (default: the newest release)")
    expand.add_argument("range", metavar="RANGE", help='a code or a range as bulletins write it ("800.00 - 999.9")')
    expand.set_defaults(run=_expand)

    policy = commands.add_parser("policy", help="list, parse, show and translate policies",
                                 description="list, parse, show and translate policies").add_subparsers(
        dest="policy_command", required=True, metavar="COMMAND")
    listed = _command(policy, "list", "list the bundled policies, or a directory's: id, title, eras, revision, "
                      "effective date, groups, entries")
    listed.add_argument("directory", nargs="?", metavar="DIR",
                        help="a directory of bulletins (*.txt, *.json); default: the bundled policies")
    listed.set_defaults(run=_policy_list)
    parse = _command(policy, "parse", "parse a bulletin's code section")
    parse.add_argument("file", metavar="FILE", help="the bulletin as text (its code section), or as JSON (.json)")
    parse.add_argument("--json", action="store_true",
                       help="print the policy as JSON (saved as a .json file, it loads back as the same policy)")
    parse.set_defaults(run=_policy_parse)
    show = _command(policy, "show", "print a policy's groups as tables")
    show.add_argument("policy", metavar="POLICY", help=policy_help)
    show.set_defaults(run=_policy_show)
    trans = _command(policy, "translate", "map the ICD-9 version to ICD-10-CM through the GEMs")
    trans.add_argument("policy", metavar="POLICY", help=policy_help)
    trans.add_argument("--to", default="icd10cm", choices=["icd10cm"], help="the target system (icd10cm)")
    trans.add_argument("--write", metavar="FILE",
                       help="also write the translated policy: as JSON to a .json file, else as bulletin text")
    trans.add_argument("--show", type=int, default=20, metavar="N", help="codes to list per difference (default 20)")
    trans.set_defaults(run=_policy_translate)

    lookup = _command(commands, "lookup", "which entries of a policy a code matches, contained or partial")
    lookup.add_argument("--policy", default="0198", metavar="POLICY", help=f"{policy_help} (default 0198)")
    lookup.add_argument("--system", choices=SYSTEM_CHOICES, metavar="SYSTEM",
                        help=f"{system_help}; default: the first that reads the code (CPT/HCPCS, ICD-9, ICD-10; "
                             "with --date, that era first)")
    lookup.add_argument("--date", help="date of service, YYYY-MM-DD: search that era's version only; a code of the "
                        "other era is flagged icd_version_mismatch")
    lookup.add_argument("codes", nargs="+", metavar="CODE", help="a code, as written")
    lookup.set_defaults(run=_lookup)

    scr = _command(commands, "screen", "screen claim files against a policy; print a summary")
    scr.add_argument("inputs", nargs="+", metavar="INPUT",
                     help="parquet or CSV files, globs, directories (hive partitions kept) or cloud URIs (s3://...)")
    scr.add_argument("-o", "--output", required=True, metavar="OUT",
                     help="the output file: .parquet, .csv, .xlsx or .ndjson (a directory of parquet with --engine "
                     "spark)")
    scr.add_argument("--format", choices=sorted(set(FORMATS.values())), help="the output format (default: by suffix)")
    scr.add_argument("--summary-json", metavar="FILE", help="also write the summary as JSON")
    scr.add_argument("--report", metavar="FILE", help="also write the HTML report")
    scr.add_argument("--worklist", metavar="FILE.csv",
                     help="also write every flagged line (not_covered, review, or an edit) as CSV: the reviewer's list")
    scr.add_argument("--replace-input", action="store_true", help="allow the output to replace an input file")
    scr.add_argument("--policy", action="append", metavar="POLICY",
                     help=f"{policy_help} (default 0198); repeat to screen a library of policies in one pass")
    scr.add_argument("--policies", metavar="DIR",
                     help="screen against every bulletin file (.txt, .json) in DIR too, as a library")
    scr.add_argument("--layout", default="long", choices=LAYOUTS,
                     help="long: one claim line per row (default); synpuf-carrier: the CMS DE-SynPUF carrier file")
    scr.add_argument("--claim-id", help="claim id column (default claim_id)")
    scr.add_argument("--procedure", help="procedure code column (default procedure_code)")
    scr.add_argument("--dx", action="append",
                     help="a diagnosis column, in order, or a pattern ('ICD_DX*'); repeat (default dx1..dxN)")
    scr.add_argument("--date", help="date of service column (default service_date)")
    scr.add_argument("--date-format", metavar="FORMAT",
                     help="how its text dates are written, as polars' str.to_date reads them: '%%m/%%d/%%Y' for "
                          "01/15/2013 (default: YYYY-MM-DD or YYYYMMDD)")
    scr.add_argument("--modifier", action="append", metavar="COLUMN",
                     help="a column holding the procedure's modifiers (GP, 59); repeat; the reason names the columns")
    scr.add_argument("--amount", help="paid amount column (default paid_amount, if present)")
    scr.add_argument("--provider", metavar="COLUMN", help="the billing provider's column: totals per provider")
    scr.add_argument("--member", metavar="COLUMN", help="the member's column: the summary counts members; NCCI "
                     "edits group a member's lines by it (else by claim)")
    scr.add_argument("--units", metavar="COLUMN", help="the units of service's column: NCCI's medically unlikely "
                     "edits count them")
    scr.add_argument("--ncci", action="append", metavar="PATH",
                     help="CMS NCCI files (PTP, MUE, add-on code tables, as published) or a directory of them: apply "
                     "their edits too; repeat")
    scr.add_argument("--ncci-setting", default="practitioner", choices=["practitioner", "outpatient_hospital", "dme"],
                     help="whose NCCI tables apply: practitioner (default), outpatient hospital or DME supplier claims")
    scr.add_argument("--icd-version", type=int, choices=[9, 10],
                     help="ICD version of lines with neither an icd_version nor a readable date")
    scr.add_argument("--edits", default="policy", choices=["policy", "all"],
                     help="policy: edits on lines the policy names (default); all: diagnosis edits on every line")
    scr.add_argument("--streaming", default="auto", choices=["auto", "on", "off"],
                     help="read the input in passes with bounded memory (auto: when the input files pass 200 MB)")
    scr.add_argument("--engine", default="polars", choices=["polars", "spark"],
                     help="polars: in this process (default); spark: on Apache Spark (the spark extra, Java 17)")
    scr.add_argument("--master", help="Spark master with --engine spark (default: spark-submit's, else local[2])")
    scr.add_argument("--partitions", type=int, help="Spark partitions (default: Spark's shuffle partitions)")
    scr.set_defaults(run=_screen)

    summ = _command(commands, "summary", "summarise an existing output of codeindex screen")
    summ.add_argument("output", metavar="OUT.parquet", help="a parquet output of codeindex screen")
    summ.add_argument("--json", action="store_true", help="print the summary as JSON (the --summary-json keys)")
    summ.set_defaults(run=_summary)

    rep = _command(commands, "report", "write the HTML report of an output of codeindex screen")
    rep.add_argument("output", metavar="OUT.parquet", help="a parquet output of codeindex screen")
    rep.add_argument("-o", dest="report_output", required=True, metavar="REPORT.html",
                     help="the HTML file to write (self-contained: it opens with no network)")
    rep.set_defaults(run=_report)

    sample = _command(commands, "sample", "write the bundled sample claims (10,000 lines, the quick start's) to a file")
    sample.add_argument("-o", "--output", required=True, metavar="FILE", help="the parquet file to write")
    sample.set_defaults(run=_sample)

    syn = _command(commands, "synth", "write seeded sample claims")
    syn.add_argument("--rows", type=int, required=True, help="lines (long) or claims (synpuf-carrier)")
    syn.add_argument("--layout", default="long", choices=LAYOUTS, help="long (default) or synpuf-carrier")
    syn.add_argument("--seed", type=int, default=0, help="the random seed: one seed, one file (default 0)")
    syn.add_argument("-o", "--output", required=True, metavar="FILE", help="the parquet file to write")
    syn.set_defaults(run=_synth)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return _interruptible(lambda: _run(args), args.command)


def _run(args: argparse.Namespace) -> int:
    try:
        return int(args.run(args))
    except (InvalidCodeError, PolicyParseError, InputError, OutputError, UsageError) as exc:
        print(f"codeindex {args.command}: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except pl.exceptions.PolarsError as exc:  # unreadable content found while streaming
        print(f"codeindex {args.command}: {' '.join(str(exc).split())[:500]}", file=sys.stderr)
        return 2


class _Terminated(Exception):
    """SIGTERM, raised in the main thread."""


def _terminate(signum: int, frame: object) -> None:
    raise _Terminated


def _interruptible(run: Callable[[], int], command: str) -> int:
    """Run a command in a worker thread while the main thread waits for signals: Ctrl-C (exit 130) or SIGTERM
    (exit 143) at any point removes this run's partial files and ends it with one line, promptly, even while
    polars is busy in native code (a signal handler only runs in the main thread, between bytecodes)."""
    if threading.current_thread() is not threading.main_thread():
        return run()
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["status"] = run()
        except BaseException as exc:  # handed to the main thread
            outcome["error"] = exc

    previous = signal.signal(signal.SIGTERM, _terminate)
    worker = threading.Thread(target=work, name=f"codeindex {command}", daemon=True)
    try:
        worker.start()
        while worker.is_alive():
            worker.join(0.1)
    except (KeyboardInterrupt, _Terminated) as exc:
        for directory in list(LIVE_PARTIALS):
            remove_partial(directory)
        terminated = isinstance(exc, _Terminated)
        written = f"only {', '.join(map(str, PUBLISHED))} written" if PUBLISHED else "no output written"
        print(f"codeindex {command}: {'terminated' if terminated else 'interrupted'}; {written}", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(143 if terminated else 130)  # the worker may be inside polars: end the process, not the thread
    finally:
        signal.signal(signal.SIGTERM, previous)
    if "error" in outcome:
        raise outcome["error"]
    return int(outcome["status"])


if __name__ == "__main__":
    sys.exit(main())
