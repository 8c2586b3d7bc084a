"""Screen claim lines against a library of N policies in one pass: time against N (issue 17).

    python benchmarks/library.py --sizes 1,10,100,500 --lines 2000000 [--repeat 3]
    python benchmarks/library.py --sizes 1,5 --lines 20000 --repeat 1        # CI: the answers are checked

The library is CPB 0198 followed by N - 1 bulletins of ``codeindex.synth.policy_library`` (seed ``--seed``),
written as bulletin files into a temporary directory, so one policy is ``benchmarks/compare.py``'s screen:
the same claims file (``compare.claims_path``: made, or reused from ``--data-dir``, on first use; every
line before 2015-10-01, so each policy's ICD-9 version applies).  For each N it reports:

``ranges``     the procedure and diagnosis entries of the N compiled policies, both versions;
``named``      the share of lines whose procedure one of the N policies' ICD-9 versions names;
``compile s``  ``load_policies`` of the N files and ``compile_policies`` of them, the caches cleared (the
               code sets stay loaded), median of ``--repeat``;
``findings``   the (line, policy naming its procedure) pairs the screen explains;
``screen s``   ``screen(path, policy=[N files]).collect()``, the policies already compiled, median of
               ``--repeat``, sizes interleaved within each repetition; its ratio to one policy, and its
               time per finding (the read and the unnamed lines included).

It also times one policy holding the largest library's procedure lists and CPB 0198's diagnosis lists
(``merged_policy``): it names the same lines with one finding each, so the library's cost beyond
explaining the lines it names shows against it.

Before anything is timed the answers are checked: every line of every size comes back with a
determination, a list of one policy gives what the policy alone gives (and its findings), and every
line CPB 0198 names is named by the library.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import polars as pl
from compare import DATA_DIR, claims_path, log  # the claims file the engine comparison uses
from intervaltree import IntervalTree

from codeindex import parse_code
from codeindex.data import data_path
from codeindex.policy import Policy, PolicyGroup, PolicyVersion, load_policies, registry
from codeindex.policy.compiled import CompiledPolicies, compile_policies
from codeindex.screen import screen
from codeindex.synth import write_policy_library

NOT_APPLICABLE = "not_applicable"


def library_paths(directory: Path, size: int, seed: int) -> list[Path]:
    """CPB 0198's bulletin and the first ``size - 1`` synthetic bulletins of ``seed``, written to ``directory``."""
    return [data_path("policies", "0198.txt"), *write_policy_library(directory, size - 1, seed)]


def compile_library(paths: Sequence[Path]) -> CompiledPolicies:
    """Load every bulletin from its file and compile them into one library (the caches cleared first)."""
    registry._load.cache_clear()
    compile_policies.cache_clear()
    return compile_policies(load_policies(paths))


def merged_policy(policies: Sequence[Policy]) -> Policy:
    """One policy holding every procedure group of ``policies`` and the first policy's diagnosis groups, era
    by era: it names the lines the library names, with one finding per line (its first entry holding a
    code decides) and CPB 0198's short range lists, so it measures explaining the library's lines once
    each, without the library's many findings per line and long range lists.  An entry that would hold a code
    an earlier entry holds under another coverage is left out (one policy cannot say both), so it may name a
    few lines fewer than the library."""
    eras = dict.fromkeys(v.era for p in policies for v in p.versions)

    def groups(era: str) -> tuple[PolicyGroup, ...]:
        first = [g for v in policies[0].versions if v.era == era for g in v.groups]
        held: dict[str, IntervalTree] = {}  # the procedure codes held so far, by coverage
        kept = []
        for group in (g for p in policies for v in p.versions if v.era == era for g in v.groups
                      if g.system == "hcpcs"):
            entries = tuple(entry for entry in group.entries if not any(
                tree.overlaps(entry.range.lo, entry.range.hi + 1) for coverage, tree in held.items()
                if coverage != group.coverage and "related" not in (coverage, group.coverage)))
            for entry in entries:
                held.setdefault(group.coverage, IntervalTree()).addi(entry.range.lo, entry.range.hi + 1)
            if entries and group not in first:
                kept.append(replace(group, entries=entries))
        return (*first, *kept)

    return Policy("merged", f"the procedure lists of {len(policies)} policies in one", None,
                  tuple(PolicyVersion(era, groups(era)) for era in eras))


def named_share(path: Path, compiled: CompiledPolicies, size: int) -> float:
    """The share of the file's lines whose procedure one of the first ``size`` policies' ICD-9 versions names."""
    counts = pl.scan_parquet(path).group_by("procedure_code").len().collect().rows()
    procedures = compiled.procedures.filter(pl.col("era") == "icd9", pl.col("policy") < size).select("lo", "hi")
    ranges = list(zip(procedures["lo"].to_list(), procedures["hi"].to_list(), strict=True))
    named = 0
    for value, lines in counts:
        try:
            code = parse_code(value, "hcpcs")
        except ValueError:  # InvalidCodeError: not a code, so no policy names it
            continue
        if any(lo <= code.lo and code.hi <= hi for lo, hi in ranges):
            named += lines
    return named / sum(n for _, n in counts)


def check(size: int, output: pl.DataFrame, lines: int, single: pl.DataFrame | None) -> list[str]:
    """What is wrong with the library screen of ``size`` policies (nothing: an empty list)."""
    problems = []
    if output["determination"].null_count():
        problems.append(f"{output['determination'].null_count():,} output rows without a determination")
    screened = output.height if output.height == lines else output.select(
        pl.struct("claim_id", "line_no").n_unique()).item()
    if screened != lines:
        problems.append(f"{screened:,} of {lines:,} lines came back")
    if single is not None and size == 1 and not output.drop("findings").equals(single):
        problems.append("a list of one policy differs from the policy alone")
    if single is not None and output.height == lines:
        alone = single["determination"] != NOT_APPLICABLE
        dropped = (alone & (output["determination"] == NOT_APPLICABLE)).sum()
        if dropped:
            problems.append(f"{dropped:,} lines CPB 0198 names are not_applicable against the library")
    return problems


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    path = claims_path(args.lines, data_dir=args.data_dir)
    lines = pl.scan_parquet(path).select(pl.len()).collect().item()
    log(f"data: {path} ({lines:,} lines, ready in {time.perf_counter() - t0:.1f}s)")
    with tempfile.TemporaryDirectory(prefix="codeindex-library-") as directory:
        paths = library_paths(Path(directory), max(args.sizes), args.seed)
        compile_library(paths[:2])  # warm: the code sets loaded once, as in any process
        compiled = compile_library(paths)
        ranges = {n: compiled.procedures.filter(pl.col("policy") < n).height
                  + compiled.diagnoses.filter(pl.col("policy") < n).height for n in args.sizes}
        named = {n: named_share(path, compiled, n) for n in args.sizes}
        compile_times: dict[int, list[float]] = {n: [] for n in args.sizes}
        for _ in range(args.repeat):
            for n in args.sizes:
                gc.collect()
                start = time.perf_counter()
                compile_library(paths[:n])
                compile_times[n].append(time.perf_counter() - start)
        compile_library(paths)  # every policy compiled (and cached) before the screens are timed

        merged = merged_policy(compiled.policies)
        merged_times: list[float] = []
        single_times: list[float] = []
        screen_times: dict[int, list[float]] = {n: [] for n in args.sizes}
        findings: dict[int, int] = {}
        policies = {n: [str(p) for p in paths[:n]] for n in args.sizes}
        for rep in range(args.repeat):
            gc.collect()
            start = time.perf_counter()
            single = screen(path, policy=str(paths[0])).collect()
            single_times.append(time.perf_counter() - start)
            log(f"  run {rep + 1}/{args.repeat} one policy, alone       {single_times[-1]:8.3f}s")
            gc.collect()
            start = time.perf_counter()
            screen(path, policy=merged).collect()
            merged_times.append(time.perf_counter() - start)
            log(f"  run {rep + 1}/{args.repeat} {max(args.sizes)} policies' procedures in one {merged_times[-1]:8.3f}s")
            for n in args.sizes:
                gc.collect()
                start = time.perf_counter()
                output = screen(path, policy=policies[n]).collect()
                screen_times[n].append(time.perf_counter() - start)
                log(f"  run {rep + 1}/{args.repeat} {n:>4} policies as a list {screen_times[n][-1]:8.3f}s")
                findings[n] = int(output["findings"].list.len().sum())
                if rep == 0 and (problems := check(n, output, lines, single)):
                    for problem in problems:
                        print(f"error: {n} policies: {problem}", file=sys.stderr)
                    return 1
                del output
            del single
        log("check: every line of every size has a determination, a list of one policy gives what the policy "
            "alone gives, and the lines CPB 0198 names stay named")
    base = median(screen_times[min(args.sizes)])
    print(f"\n{lines:,} claim lines ({path.name}); the library is CPB 0198 and synthetic bulletins of seed "
          f"{args.seed}; median of {args.repeat}")
    print(f"one policy alone (screen(path, policy=file)): {median(single_times):.3f} s")
    print(f"the {max(args.sizes)} policies' procedure lists as one policy (the lines the library names, one finding "
          f"each): {median(merged_times):.3f} s")
    print(f"{'policies':>8}{'ranges':>9}{'named':>8}{'compile s':>11}{'findings':>11}{'screen s':>10}"
          f"{'x 1 policy':>12}{'us/finding':>12}")
    for n in args.sizes:
        screen_s = median(screen_times[n])
        print(f"{n:>8}{ranges[n]:>9,}{named[n]:>8.1%}{median(compile_times[n]):>11.3f}{findings[n]:>11,}"
              f"{screen_s:>10.3f}{screen_s / base:>12.2f}{screen_s / max(findings[n], 1) * 1e6:>12.2f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=lambda s: sorted({int(n) for n in s.split(",")}), default=[1, 10, 100, 500],
                        help="comma-separated numbers of policies (default 1,10,100,500)")
    parser.add_argument("--lines", type=int, default=2_000_000, help="claim lines (default 2,000,000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the median counts (default 3)")
    parser.add_argument("--seed", type=int, default=0, help="the synthetic library's seed (default 0)")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR, help=f"cache of generated claims ({DATA_DIR})")
    args = parser.parse_args(argv)
    if min(args.sizes) < 1 or args.lines < 1 or args.repeat < 1:
        parser.error("--sizes, --lines and --repeat must be >= 1")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
