"""Loading policies: the bundled ones by id (``data/policies/<id>.txt``) or any bulletin file."""

from __future__ import annotations

import os
from dataclasses import replace
from functools import cache
from pathlib import Path

from codeindex.data import data_path
from codeindex.errors import InputError
from codeindex.policy.bulletin import parse_cpb
from codeindex.policy.model import Policy


def bundled_policies() -> list[str]:
    return sorted(p.stem for p in data_path("policies").glob("*.txt"))


def load_policy(policy: str | os.PathLike[str] | Policy) -> Policy:
    """A Policy from a bundled id ("0198"), a bulletin file's path, or a Policy (returned as is).

    A text that names an existing file is that file; otherwise it must be one of the bundled ids
    exactly (an id is never a path: "../x" is not looked for among the bundled policies).  A Path
    is always a file.
    """
    if isinstance(policy, Policy):
        return policy
    path = Path(policy)
    if not path.exists() and isinstance(policy, str) and policy in bundled_policies():
        path = data_path("policies", f"{policy}.txt")
    elif not path.exists():
        bundled = ", ".join(bundled_policies())
        raise InputError(f"policy {str(policy)!r}: no such file, and not a bundled policy id ({bundled})")
    elif not path.is_file():
        raise InputError(f"policy {str(policy)!r}: not a file")
    return _load(path.resolve(), path.stat().st_mtime_ns)


@cache
def _load(path: Path, _mtime: int) -> Policy:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"policy file {path}: cannot read it: {exc}") from None
    parsed = parse_cpb(text, source=str(path))
    return parsed if parsed.id else replace(parsed, id=path.stem)
