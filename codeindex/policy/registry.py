"""Loading policies: the bundled ones by id (``data/policies/<id>.txt``), any bulletin file, or a library.

A bulletin file is the page's text (``.txt``, or any suffix but ``.json``) or the policy as JSON
(``.json``, as ``codeindex policy parse FILE --json`` writes it); both give a Policy whose id, when
the file names none, is the file's name without its suffix.  A library is many policies screened in
one pass, so their ids must be distinct: ``load_policies`` takes policies given one by one and every
bulletin of a directory, and refuses two with one id, naming both sources.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import replace
from functools import cache
from pathlib import Path

from codeindex.data import data_path
from codeindex.errors import InputError
from codeindex.policy.bulletin import parse_cpb
from codeindex.policy.model import Policy

BULLETIN_SUFFIXES = (".txt", ".json")  # what a directory of bulletins holds


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


def read_policy_file(path: str | os.PathLike[str], source: str | None = None) -> Policy:
    """The policy a bulletin file holds (text or ``.json``), its id the file's stem when it names none;
    ``source`` (default: the path) is where errors and the policy say it was read from.  Not cached:
    ``load_policy`` is, by path and modification time."""
    path = Path(path)
    where = str(path) if source is None else source
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"policy file {where}: cannot read it: {exc}") from None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text, object_pairs_hook=_unique_keys)
        except json.JSONDecodeError as exc:
            raise InputError(f"policy file {where}: not JSON: {exc}") from None
        except _DuplicateKey as exc:
            raise InputError(f"policy file {where}: key {exc.key!r} given twice in one object") from None
        except RecursionError:
            raise InputError(f"policy file {where}: nested too deeply to be a policy") from None
        policy = Policy.from_json(data, source=where)
    else:
        policy = parse_cpb(text, source=where)
    return policy if policy.id else replace(policy, id=path.stem)


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """A JSON object whose keys are each given once (json keeps the last of two silently)."""
    data: dict[str, object] = {}
    for key, value in pairs:
        if key in data:
            raise _DuplicateKey(key)
        data[key] = value
    return data


@cache
def _load(path: Path, _mtime: int) -> Policy:
    return read_policy_file(path)


def load_policies(policies: Sequence[str | os.PathLike[str] | Policy] = (),
                  directory: str | os.PathLike[str] | None = None) -> tuple[Policy, ...]:
    """A library of policies: each of ``policies`` (as ``load_policy`` reads it), in order, then every
    bulletin file of ``directory`` (``*.txt``, ``*.json``; not those whose names start with "." or "_")
    in name order.

    Several revisions of one policy (one id) may be given when each has its effective date, and the dates
    differ: a line is screened against the revision in force on its date.  Raises InputError for two policies
    with one id otherwise (naming both), a directory that is missing or holds no bulletin file, and when no
    policy results at all.
    """
    given: list[tuple[str, Policy]] = [(_source_name(p), load_policy(p)) for p in policies]
    if directory is not None:
        given += [(str(path), load_policy(path)) for path in bulletin_files(directory)]
    if not given:
        raise InputError("no policies: give a policy or a directory of bulletins")
    seen: dict[str | None, list[tuple[str, Policy]]] = {}
    for source, policy in given:
        for other_source, other in seen.get(policy.id, []):
            if policy.effective is None or other.effective is None:
                raise InputError(f"policy id {policy.id!r} twice: in {other_source} and in {source} (two revisions "
                                 "of one policy each need the effective date their page gives)")
            if policy.effective == other.effective:
                raise InputError(f"policy id {policy.id!r} twice with one effective date, "
                                 f"{policy.effective.isoformat()}: in {other_source} and in {source}")
        seen.setdefault(policy.id, []).append((source, policy))
    return tuple(policy for _, policy in given)


def bulletin_files(directory: str | os.PathLike[str]) -> list[Path]:
    """The bulletin files of a directory, by name; raises InputError when there are none, and when a name that
    is a bulletin's (``*.txt``, ``*.json``) is not a readable file (a dangling link, a pipe, a folder): nothing
    asked for is skipped."""
    folder = Path(directory)
    if not folder.exists():
        raise InputError(f"policy directory {str(directory)!r}: no such directory")
    if not folder.is_dir():
        raise InputError(f"policy directory {str(directory)!r}: not a directory")
    files = sorted((p for p in folder.iterdir() if p.suffix.lower() in BULLETIN_SUFFIXES
                    and not p.name.startswith((".", "_"))), key=lambda p: p.name)
    for path in files:
        if not path.is_file():
            kind = ("a link to nothing" if path.is_symlink() and not path.exists() else
                    "a directory" if path.is_dir() else "not a regular file")
            raise InputError(f"policy directory {str(directory)!r}: {path.name} is {kind}, not a bulletin file; "
                             "remove it or rename it to start with '_'")
    if not files:
        kinds = ", ".join(f"*{suffix}" for suffix in BULLETIN_SUFFIXES)
        raise InputError(f"policy directory {str(directory)!r}: no bulletin files ({kinds})")
    return files


def _source_name(policy: str | os.PathLike[str] | Policy) -> str:
    """How a duplicate-id error names where a policy came from."""
    if isinstance(policy, Policy):
        return policy.source or f"the Policy {policy.name()}"
    return str(policy)
