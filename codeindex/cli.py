"""The ``codeindex`` command: a thin shell over the library.

Every error a user can cause ends in one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import date

from rich.console import Console
from rich.table import Table

from codeindex.codesets import code_set, has_code_set
from codeindex.errors import InputError, InvalidCodeError, PolicyParseError
from codeindex.policy import Policy, era_for_date, load_policy, parse_cpb
from codeindex.policy.bulletin import format_cpb, group_header
from codeindex.policy.gem import translate
from codeindex.policy.model import ERA_NAMES
from codeindex.ranges import parse_range
from codeindex.systems import ALIASES, SYSTEMS, parse_code, system_name

SYSTEM_CHOICES = sorted([*SYSTEMS, *ALIASES])
LOOKUP_ORDER = ["hcpcs", "icd9dx", "icd10cm", "icd9pcs"]


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
    era = era_for_date(_parse_date(args.date)) if args.date else None
    systems = [args.system] if args.system else sorted(
        {g.system for v in policy.versions for g in v.groups}, key=LOOKUP_ORDER.index)
    for text in args.codes:
        system, hits = None, []
        for candidate in systems:  # without --system: the first system that reads the code
            try:
                hits = policy.lookup(text, candidate, era)
            except InvalidCodeError:
                continue
            system = system_name(candidate)
            break
        matches = [{"policy": policy.id, "version": h.version.era,
                    "group": h.group.header or group_header(h.group), "coverage": h.group.coverage,
                    "range": str(h.entry.range), "match": h.match} for h in hits]
        print(json.dumps({"input": text, "system": system, "matches": matches}))
    return 0


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--date {text!r}: expected YYYY-MM-DD") from None


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (InvalidCodeError, PolicyParseError, InputError, UsageError) as exc:
        print(f"codeindex {args.command}: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
