"""The ``codeindex`` command: a thin shell over the library.

Every error a user can cause ends in one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import replace
from datetime import date
from pathlib import Path

import polars as pl
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from codeindex.codesets import code_set, has_code_set
from codeindex.errors import InputError, InvalidCodeError, PolicyParseError, first_line
from codeindex.policy import Policy, load_policy, lookup_code, parse_cpb
from codeindex.policy.bulletin import format_cpb, group_header
from codeindex.policy.gem import translate
from codeindex.policy.model import ERA_NAMES
from codeindex.ranges import parse_range
from codeindex.screen import LAYOUTS, screen
from codeindex.screen.summary import print_summary, summarize
from codeindex.synth import write_sample
from codeindex.systems import ALIASES, SYSTEMS, parse_code

SYSTEM_CHOICES = sorted([*SYSTEMS, *ALIASES])


class UsageError(Exception):
    """A user mistake the CLI reports in one line with exit status 2."""


def _normalize(args: argparse.Namespace) -> int:
    for text in args.codes:
        record: dict[str, object] = {"input": text, "system": None, "valid": False, "short": None,
                                     "decimal": None, "defined": None, "billable": None, "error": None}
        try:
            code = parse_code(text, args.system)
        except InvalidCodeError as exc:
            record["system"] = ALIASES.get(args.system, args.system)
            record["error"] = str(exc)
        else:
            record.update(system=code.system, valid=True, short=code.short, decimal=code.decimal)
            if has_code_set(code.system):
                codes = code_set(code.system)
                record.update(defined=codes.defined(code), billable=codes.billable(code))
        print(json.dumps(record))
    return 0


def _expand(args: argparse.Namespace) -> int:
    code_range = parse_range(args.range, args.system)
    for code in code_set(code_range.system).expand(code_range, parents=args.all):
        print(code.short)
    return 0


def _policy_parse(args: argparse.Namespace) -> int:
    policy = parse_cpb(_read_text(args.file), source=args.file)
    if args.json:
        print(json.dumps(policy.to_json(), indent=2))
    else:
        _print_policy(policy)
    return 0


def _read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read it: {exc}") from None


def _print_policy(policy: Policy) -> None:
    console = Console()
    console.print(f"[bold]{policy.name()}[/bold]: {policy.title or ''}")
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
        with open(args.write, "w", encoding="utf-8") as handle:
            handle.write(format_cpb(translated))
    console = Console()
    table = Table(title=f"{policy.name()}: ICD-9 diagnosis groups translated to ICD-10-CM through the GEMs",
                  title_justify="left")
    for column in ("group", "translated", "approximate", "in the bulletin's ICD-10 list",
                   "translated only", "bulletin only"):
        table.add_column(column, justify="left" if column == "group" else "right")
    for c in translation.comparisons:
        bulletin = "-" if c.bulletin is None else len(c.bulletin)
        table.add_row(c.coverage, str(len(c.translated)), str(len(c.approximate)), str(bulletin),
                      str(len(c.only_translated)), str(len(c.only_bulletin)))
    console.print(table)
    for c in translation.comparisons:
        for name, codes in (("translated, not in the bulletin", c.only_translated),
                            ("in the bulletin, not translated", c.only_bulletin)):
            if codes:
                shown = ", ".join(codes[: args.show])
                more = f" ... and {len(codes) - args.show} more" if len(codes) > args.show else ""
                console.print(f"{c.coverage}, {name} ({len(codes)}): {shown}{more}", highlight=False)
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
                                 ("date", args.date), ("amount", args.amount)) if v}
    if columns and args.layout != "long":
        raise UsageError("column options apply to the long layout only")
    output = Path(args.output)
    started = time.perf_counter()
    with _progress() as progress:
        task = progress.add_task("reading and classifying", total=None)
        if args.engine == "spark":
            try:
                from codeindex import spark
            except ImportError as exc:
                raise UsageError(f"--engine spark needs the spark extra (pip install 'codeindex[spark]'): {exc}") \
                    from None
            progress.update(task, description="screening on Spark")
            written = spark.screen_files(args.inputs, args.output, master=args.master, policy=args.policy,
                                         layout=args.layout, partitions=args.partitions,
                                         icd_version=args.icd_version, edits=args.edits, **columns)
            if "://" in args.output:  # remote storage: the lines written are the summary
                Console().print(f"wrote {written:,} screened lines to {args.output}", highlight=False)
                return 0
            result = pl.scan_parquet(output / "*.parquet")
        else:
            try:
                plan = screen(args.inputs, policy=args.policy, layout=args.layout, icd_version=args.icd_version,
                              edits=args.edits, streaming=_streaming(args), **columns)
                if not progress.disable:  # on a terminal: count the lines as they are written
                    lines = plan.select(pl.len()).collect().item()
                    progress.update(task, description="writing", total=lines, completed=0)

                    def count_written(batch: pl.DataFrame) -> pl.DataFrame:
                        progress.advance(task, batch.height)
                        return batch

                    plan = plan.map_batches(count_written, streamable=True, schema=plan.collect_schema())
                write_atomically(plan, output)
            except pl.exceptions.PolarsError as exc:  # unreadable content found while streaming the input
                raise InputError(f"{', '.join(args.inputs)}: cannot read it: {first_line(exc)}") from None
            result = pl.scan_parquet(output)
    policy = load_policy(args.policy)
    amount = args.amount or ("LINE_NCH_PMT_AMT" if args.layout == "synpuf-carrier" else "paid_amount")
    amount = amount if amount in result.collect_schema() else None
    procedure = "HCPCS_CD" if args.layout == "synpuf-carrier" else (args.procedure or "procedure_code")
    summary = summarize(result, procedure, amount, time.perf_counter() - started)
    print_summary(summary, policy.name())
    Console().print(f"wrote {output}", highlight=False)
    return 0


def _progress() -> Progress:
    """A progress bar on stderr when it is a terminal (lines written of lines screened); silent otherwise."""
    console = Console(stderr=True)
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                    MofNCompleteColumn(), TextColumn("lines"), TimeElapsedColumn(), console=console,
                    transient=True, disable=not console.is_terminal)


STREAMING_ABOVE_BYTES = 200 * 1024 * 1024  # about 10 million claim lines of parquet


def _streaming(args: argparse.Namespace) -> bool:
    """Stream when asked, or (auto) when the input files are too big to hold comfortably in memory."""
    if args.streaming != "auto":
        return bool(args.streaming == "on")
    files = [f for given in args.inputs for f in (Path(given).rglob("*") if Path(given).is_dir() else [Path(given)])]
    return sum(f.stat().st_size for f in files if f.is_file()) > STREAMING_ABOVE_BYTES


def write_atomically(plan: pl.LazyFrame, output: Path) -> None:
    """Stream the plan into a temporary file beside ``output``, then rename it into place."""
    output.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".partial", dir=output.parent)
    os.close(handle)
    try:
        plan.sink_parquet(temporary)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, output)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def _synth(args: argparse.Namespace) -> int:
    path = write_sample(args.output, args.rows, layout=args.layout, seed=args.seed)
    print(f"wrote {args.rows:,} {'lines' if args.layout == 'long' else 'claims'} to {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="codeindex", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    normalize = commands.add_parser("normalize", help="parse codes; print one JSON object per code")
    normalize.add_argument("--system", required=True, choices=SYSTEM_CHOICES)
    normalize.add_argument("codes", nargs="+", metavar="CODE")
    normalize.set_defaults(run=_normalize)

    expand = commands.add_parser("expand", help="list the billable codes of a range, in code order")
    expand.add_argument("--system", required=True, choices=SYSTEM_CHOICES)
    expand.add_argument("--all", action="store_true", help="also list defined non-billable parents")
    expand.add_argument("range", metavar="RANGE")
    expand.set_defaults(run=_expand)

    policy = commands.add_parser("policy", help="parse, show and translate policies").add_subparsers(
        dest="policy_command", required=True)
    parse = policy.add_parser("parse", help="parse a bulletin's code section")
    parse.add_argument("file")
    parse.add_argument("--json", action="store_true", help="print the policy as JSON")
    parse.set_defaults(run=_policy_parse)
    show = policy.add_parser("show", help="print a policy's groups as tables")
    show.add_argument("policy", help="a bundled policy id (0198) or a bulletin file")
    show.set_defaults(run=_policy_show)
    trans = policy.add_parser("translate", help="map the ICD-9 version to ICD-10-CM through the GEMs")
    trans.add_argument("policy")
    trans.add_argument("--to", default="icd10cm", choices=["icd10cm"])
    trans.add_argument("--write", metavar="FILE", help="also write the translated policy as bulletin text")
    trans.add_argument("--show", type=int, default=20, help="codes to list per difference (default 20)")
    trans.set_defaults(run=_policy_translate)

    lookup = commands.add_parser("lookup", help="which entries of a policy a code matches")
    lookup.add_argument("--policy", required=True)
    lookup.add_argument("--system", choices=SYSTEM_CHOICES)
    lookup.add_argument("--date", help="date of service, YYYY-MM-DD: search that era's version only")
    lookup.add_argument("codes", nargs="+", metavar="CODE")
    lookup.set_defaults(run=_lookup)

    scr = commands.add_parser("screen", help="screen claim files against a policy")
    scr.add_argument("inputs", nargs="+", metavar="INPUT", help="parquet or CSV files, globs or directories")
    scr.add_argument("-o", "--output", required=True, help="the output parquet file (a directory with spark)")
    scr.add_argument("--policy", default="0198", help="a bundled policy id or a bulletin file (default 0198)")
    scr.add_argument("--layout", default="long", choices=LAYOUTS)
    scr.add_argument("--claim-id", help="claim id column (default claim_id)")
    scr.add_argument("--procedure", help="procedure code column (default procedure_code)")
    scr.add_argument("--dx", action="append", help="a diagnosis column, in order; repeat (default dx1..dxN)")
    scr.add_argument("--date", help="date of service column (default service_date)")
    scr.add_argument("--amount", help="paid amount column (default paid_amount, if present)")
    scr.add_argument("--icd-version", type=int, choices=[9, 10],
                     help="ICD version of lines with neither an icd_version nor a readable date")
    scr.add_argument("--edits", default="policy", choices=["policy", "all"],
                     help="policy: edits on lines the policy names (default); all: diagnosis edits on every line")
    scr.add_argument("--streaming", default="auto", choices=["auto", "on", "off"],
                     help="read the input in passes with bounded memory (auto: when the input files pass 200 MB)")
    scr.add_argument("--engine", default="polars", choices=["polars", "spark"])
    scr.add_argument("--master", help="Spark master with --engine spark (default: spark-submit's, else local[2])")
    scr.add_argument("--partitions", type=int, help="Spark partitions (default: Spark's shuffle partitions)")
    scr.set_defaults(run=_screen)

    syn = commands.add_parser("synth", help="write seeded sample claims")
    syn.add_argument("--rows", type=int, required=True, help="lines (long) or claims (synpuf-carrier)")
    syn.add_argument("--layout", default="long", choices=LAYOUTS)
    syn.add_argument("--seed", type=int, default=0)
    syn.add_argument("-o", "--output", required=True)
    syn.set_defaults(run=_synth)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except (InvalidCodeError, PolicyParseError, InputError, UsageError) as exc:
        print(f"codeindex {args.command}: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except pl.exceptions.PolarsError as exc:  # unreadable content found while streaming
        print(f"codeindex {args.command}: {' '.join(str(exc).split())[:500]}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
