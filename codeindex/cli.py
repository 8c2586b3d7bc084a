"""The ``codeindex`` command: a thin shell over the library.

Every error a user can cause ends in one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from codeindex.codesets import code_set, has_code_set
from codeindex.errors import InputError, InvalidCodeError, PolicyParseError
from codeindex.ranges import parse_range
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (InvalidCodeError, PolicyParseError, InputError, UsageError) as exc:
        print(f"codeindex {args.command}: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
