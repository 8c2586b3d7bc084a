"""Screen N claim lines against CPB 0198 with codeindex and with the obvious alternatives.

    python benchmarks/compare.py --rows 2000000 [--json FILE] [--repeat K]

Makes (or reuses, by rows and seed, under ``benchmarks/.data/``) a long-layout parquet of
claim lines from before 2015-10-01, so CPB 0198's ICD-9 version applies to every line, and
times, alternating engines within each repetition, the median of ``--repeat`` runs of:

``scan``               reading every column of the parquet and nothing else: the floor;
``codeindex``          ``codeindex.screen.screen(path).collect()``, end to end;
``naive``              per-row Python: ``parse_code`` each diagnosis, query a plain
                       ``IntervalTree`` of the policy's ranges; timed on a sample of rows
                       (``--sample``) and extrapolated linearly to N;
``duckdb``             SQL: unpivot dx1..dx12, compute each code's leaf-span keys with
                       string functions, range-join against the policy's ranges, regroup;
``polars_join_where``  the same range join with polars expressions and ``join_where``.

Every engine returns every input line with its columns plus ``determination`` and
``matched_dx_ranges``.  The per-line answer compared across engines is the determination
("not_covered" when the procedure is one of the ICD-9 version's not-covered procedures,
else "not_applicable") and, for not-covered lines, the sorted distinct ranges the line's
diagnoses lie inside ("contained"; a code whose span only overlaps a range, such as "V15"
against V15.1-V15.6, is not a match).  Any difference is an error, checked after the
first repetition, before anything is printed.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl
import pyarrow as pa
from intervaltree import Interval, IntervalTree

from codeindex import CodeRange, code_set, parse_code
from codeindex.code import KIND_BITS, SYSTEM_BITS, SYSTEM_IDS
from codeindex.codesets import releases
from codeindex.policy import load_policy

GENERATOR_VERSION = 4  # bump when the generated data changes, so cached files are not reused
DATA_DIR = Path(__file__).resolve().parent / ".data"
DX_COLUMNS = tuple(f"dx{i}" for i in range(1, 13))
COLUMNS = ("claim_id", "line_no", "procedure_code", *DX_COLUMNS, "service_date", "paid_amount")
ENGINES = ("scan", "codeindex", "naive", "duckdb", "polars_join_where")
NOT_COVERED, NOT_APPLICABLE = "not_covered", "not_applicable"
# ICD-9-CM diagnosis keys, as codeindex.code lays them out: system | kind | value.
ICD9_BASE = SYSTEM_IDS["icd9dx"] << SYSTEM_BITS
KIND_STEP = 1 << KIND_BITS  # kinds: 0 numeric (5 digits), 1 V (V + 4 digits), 2 E (E + 4 digits)


# --- the policy ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class PolicySpec:
    """What the comparison needs of a policy's ICD-9 version: its not-covered procedures
    (single codes) and its not-covered ICD-9 diagnosis ranges."""

    procedures: tuple[str, ...]
    ranges: tuple[CodeRange, ...]

    @classmethod
    def load(cls, policy: str = "0198") -> PolicySpec:
        version = load_policy(policy).version("icd9")
        if version is None:
            raise SystemExit(f"policy {policy} has no ICD-9 version")
        procedures: list[str] = []
        ranges: list[CodeRange] = []
        for group in version.groups:
            if group.coverage != NOT_COVERED:
                raise SystemExit(f"policy {policy}: only not-covered groups are supported here")
            if group.system == "hcpcs":
                if not all(e.range.is_single for e in group.entries):
                    raise SystemExit(f"policy {policy}: procedure ranges are not supported here")
                procedures += [e.range.start.short for e in group.entries]
            elif group.system == "icd9dx":
                ranges += [e.range for e in group.entries]
            else:
                raise SystemExit(f"policy {policy}: {group.system} groups are not supported here")
        return cls(tuple(procedures), tuple(ranges))

    def range_table(self) -> pl.DataFrame:
        """The ranges with keys by the engines' own rule (``_keys``: a code's span is every code its short
        form prefixes), not codeindex's, so that the hand-written engines stay independent of it."""
        return pl.DataFrame(
            {"range": [str(r) for r in self.ranges], "start": [r.start.short for r in self.ranges],
             "end": [r.end.short for r in self.ranges]},
        ).select("range", range_lo=_keys(pl.col("start"), "0"), range_hi=_keys(pl.col("end"), "9"))


# --- the data -----------------------------------------------------------------------------------

EVERYDAY = {  # procedure code -> weight, for the lines the policy does not name
    "99213": 22, "97110": 18, "99214": 15, "97140": 12, "97530": 10, "G0283": 8, "97112": 5,
    "97035": 4, "99203": 3, "97161": 2, "97750": 1,
    "97537": 0.2, "S9117": 0.1,  # named by the ICD-10 version only: not applicable before 2015-10-01
}
SPECIAL_RATE = 0.004  # 97545 / 97546 drawn independently; a 97545 line's next line adds some 97546
DX_COUNT = {1: 22, 2: 20, 3: 16, 4: 12, 5: 9, 6: 6, 7: 4, 8: 4, 9: 3, 10: 2, 11: 1, 12: 1}
# What an entered diagnosis is: a billable code, a billable code near the policy's V ranges,
# a truncated parent (any, or one near the policy's ranges), blank, or null.
DX_KINDS = {"billable": 0.86, "near": 0.05, "parent": 0.035, "parent_near": 0.035, "blank": 0.01,
            "null": 0.01}
NEAR_PREFIXES = ("V1", "V57", "800", "801", "959", "999")  # parents near the policy's ranges
OVERLAPPING = ("V15", "V57", "V572", "V578")  # parents that only overlap a range: drawn more often
FIRST_DAY, LAST_DAY = date(2011, 1, 1), date(2015, 9, 30)


def _uniform(rng: random.Random, n: int) -> pl.Series:
    """``n`` floats in [0, 1) from ``rng``, deterministic per seed (32 random bits each)."""
    buffer = pa.py_buffer(rng.randbytes(4 * n))
    words = pl.from_arrow(pa.Array.from_buffers(pa.uint32(), n, [None, buffer]))
    assert isinstance(words, pl.Series)
    return words.cast(pl.Float64) / 2.0**32


def _choose(options: list[str], u: pl.Series, weights: list[float] | None = None) -> pl.Series:
    """``options[i]`` for each draw in ``u``, uniformly or by ``weights``."""
    if weights is None:
        index = (u * len(options)).floor().cast(pl.UInt32).clip(0, len(options) - 1)
    else:
        total = sum(weights)
        cumulative, running = [], 0.0
        for w in weights[:-1]:
            running += w / total
            cumulative.append(running)
        index = pl.Series(cumulative, dtype=pl.Float64).search_sorted(u, side="right").cast(pl.UInt32)
    return pl.Series(options, dtype=pl.String).gather(index)


def _major_length(short: str) -> int:
    return 4 if short.startswith("E") else 3


def code_pools() -> dict[str, list[str]]:
    """The diagnosis codes to draw from, in the claim-style short form ("80000", "V5722"): codes billable in
    every ICD-9-CM release in force between FIRST_DAY and LAST_DAY, so that a line's answer does not depend on
    which release its date falls in (codeindex checks each line in its release; the other engines know one)."""
    days = [FIRST_DAY, *(r.start for r in releases("icd9dx") if FIRST_DAY < r.start <= LAST_DAY)]
    in_force = [{c.short for c in code_set("icd9dx", on=day).codes} for day in days]
    billable = [c.short for c in code_set("icd9dx").codes if all(c.short in codes for codes in in_force)]
    near = [s for s in billable if s.startswith(("V10", "V11", "V12", "V13", "V15", "V57"))]
    parents = sorted({s[:n] for s in billable for n in range(_major_length(s), len(s))} - set(billable))
    parent_near = [p for p in parents if p.startswith(NEAR_PREFIXES)] + [*OVERLAPPING] * 5
    return {"billable": billable, "near": near, "parent": parents, "parent_near": parent_near}


def generate_claims(n: int, seed: int = 0, share: float = SPECIAL_RATE) -> pl.DataFrame:
    """``n`` claim lines (1 to a few per claim) in the long layout, deterministic per seed; about ``share``
    of them (before add-ons follow their primaries) carry a procedure the policy names."""
    rng = random.Random(seed)
    pools = code_pools()
    new_claim = (_uniform(rng, n) < 1 / 3).scatter(0, True) if n else pl.Series([], dtype=pl.Boolean)
    days = (LAST_DAY - FIRST_DAY).days + 1
    frame = pl.DataFrame({
        "new_claim": new_claim,
        "claim_day": (_uniform(rng, n) * days).floor().cast(pl.Int32),
        "special": _uniform(rng, n) < share,
        "special_code": _choose(["97545", "97546"], _uniform(rng, n), [55, 45]),
        "everyday": _choose(list(EVERYDAY), _uniform(rng, n), list(EVERYDAY.values())),
        "pair": _uniform(rng, n) < 0.5,
        "paid_amount": (_uniform(rng, n) * 250 + 15).round(2),
        "dx_count": _choose([str(k) for k in DX_COUNT], _uniform(rng, n), list(DX_COUNT.values()))
        .cast(pl.Int32),
    })
    dx: dict[str, pl.Series] = {}
    kinds, kind_weights = list(DX_KINDS), list(DX_KINDS.values())
    for i, name in enumerate(DX_COLUMNS, start=1):
        kind = _choose(kinds, _uniform(rng, n), kind_weights)
        picks = {k: _choose(pool, _uniform(rng, n)) for k, pool in pools.items()}
        empty_after = _uniform(rng, n) < 0.15  # past the line's last diagnosis: mostly null, some ""
        value = (
            pl.when(pl.col("dx_count") < i).then(pl.when(empty_after).then(pl.lit("")))
            .when(kind == "blank").then(pl.lit(""))
            .when(kind == "null").then(pl.lit(None, pl.String))
        )
        for k, pick in picks.items():
            value = value.when(kind == k).then(pick)
        dx[name] = frame.select(value.otherwise(None).alias(name)).to_series()
    row = pl.int_range(pl.len(), dtype=pl.Int64)
    start = pl.when("new_claim").then(row).otherwise(None).forward_fill()
    claims = frame.with_columns(
        claim_id=pl.col("new_claim").cum_sum().cast(pl.Int64) + 10_000_000 - 1,
        line_no=(row - start + 1).cast(pl.Int32),
        service_date=pl.lit(FIRST_DAY) + pl.duration(
            days=pl.when("new_claim").then("claim_day").otherwise(None).forward_fill()),
        procedure_code=pl.when("special").then("special_code").otherwise("everyday"),
    ).with_columns(  # the line after a 97545 is often its add-on 97546
        procedure_code=pl.when(
            (pl.col("line_no") > 1) & (pl.col("procedure_code").shift(1) == "97545") & pl.col("pair"))
        .then(pl.lit("97546")).otherwise("procedure_code"),
    )
    return claims.with_columns(**dx).select(COLUMNS)


def interleaved_medians(runs: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    """Each run's median seconds over ``repeat`` rounds, every round running each once, in order (after one warm run
    each: code sets loaded, the file in the page cache), so a drift of the machine falls on all of them alike."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for run in runs.values():
        run()
    for _ in range(repeat):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def print_medians(medians: dict[str, float], against: dict[str, str]) -> None:
    """Each run's median, then its ratio to the median of each run of ``against`` (a run's name -> its label)."""
    width = max(map(len, medians))
    for name, median in medians.items():
        ratios = "  ".join(f"{median / medians[run]:5.2f}x {label}" for run, label in against.items())
        print(f"{name:{width}s} {median:7.3f} s  {ratios}")


def claims_path(n: int, seed: int = 0, data_dir: Path = DATA_DIR, share: float = SPECIAL_RATE) -> Path:
    """The parquet of ``n`` claim lines for ``seed`` and ``share``, made on first use and reused after."""
    data_dir.mkdir(parents=True, exist_ok=True)
    ignore = data_dir / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# generated benchmark data\n*\n")
    shape = "" if share == SPECIAL_RATE else f"-share{share:g}"
    path = data_dir / f"claims-v{GENERATOR_VERSION}-n{n}-seed{seed}{shape}.parquet"
    if not path.exists():
        partial = path.with_name(f"{path.stem}.{os.getpid()}.partial")
        generate_claims(n, seed, share).write_parquet(partial, compression="zstd", statistics=True)
        partial.replace(path)
    return path


# --- the engines --------------------------------------------------------------------------------

def run_scan(path: Path, spec: PolicySpec) -> pl.DataFrame:
    return pl.read_parquet(path)


def run_codeindex(path: Path, spec: PolicySpec) -> pl.DataFrame:
    from codeindex.screen import screen

    return screen(path, "0198").collect()


def run_naive(path: Path, spec: PolicySpec, sample: int) -> pl.DataFrame:
    """Per-row Python over the first ``sample`` rows: parse each code, query an IntervalTree."""
    frame = pl.read_parquet(path, n_rows=sample)
    tree = IntervalTree(Interval(r.lo, r.hi + 1, str(r)) for r in spec.ranges)  # half-open
    procedures = frozenset(spec.procedures)
    procedure_at = frame.columns.index("procedure_code")
    dx_at = [frame.columns.index(c) for c in DX_COLUMNS]
    determinations: list[str] = []
    matched: list[list[str]] = []
    for row in frame.iter_rows():
        found: set[str] = set()
        for i in dx_at:
            text = row[i]
            if not text:
                continue
            code = parse_code(text, "icd9dx")
            for iv in tree.overlap(code.lo, code.hi + 1):
                if iv.begin <= code.lo and code.hi < iv.end:  # contained, not partial
                    found.add(iv.data)
        if row[procedure_at] in procedures:
            determinations.append(NOT_COVERED)
            matched.append(sorted(found))
        else:
            determinations.append(NOT_APPLICABLE)
            matched.append([])
    return frame.with_columns(pl.Series("determination", determinations, dtype=pl.String),
                              pl.Series("matched_dx_ranges", matched, dtype=pl.List(pl.String)))


def _sql_list(values: tuple[str, ...]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def duckdb_query(path: Path, spec: PolicySpec) -> str:
    dx = ", ".join(DX_COLUMNS)
    source = "read_parquet('" + str(path).replace("'", "''") + "')"
    return f"""
    WITH codes AS (
        SELECT claim_id, line_no, code,
               CASE left(code, 1) WHEN 'V' THEN 1 WHEN 'E' THEN 2 ELSE 0 END AS kind
        FROM (UNPIVOT (SELECT claim_id, line_no, {dx} FROM {source}) ON {dx} INTO NAME position VALUE code)
        WHERE code <> ''
    ), keyed AS (
        SELECT claim_id, line_no,
               {ICD9_BASE} + kind * {KIND_STEP}
                 + CAST(CASE kind WHEN 0 THEN rpad(code, 5, '0') ELSE rpad(code[2:], 4, '0') END AS BIGINT)
                 AS lo,
               {ICD9_BASE} + kind * {KIND_STEP}
                 + CAST(CASE kind WHEN 0 THEN rpad(code, 5, '9') ELSE rpad(code[2:], 4, '9') END AS BIGINT)
                 AS hi
        FROM codes
    ), matches AS (
        SELECT k.claim_id, k.line_no, list_sort(list_distinct(list(r.range))) AS ranges
        FROM keyed k JOIN policy_ranges r ON k.lo >= r.range_lo AND k.hi <= r.range_hi
        GROUP BY k.claim_id, k.line_no
    )
    SELECT l.*,
           CASE WHEN l.procedure_code IN ({_sql_list(spec.procedures)})
                THEN '{NOT_COVERED}' ELSE '{NOT_APPLICABLE}' END AS determination,
           CASE WHEN l.procedure_code IN ({_sql_list(spec.procedures)})
                THEN coalesce(m.ranges, []::VARCHAR[]) ELSE []::VARCHAR[] END AS matched_dx_ranges
    FROM {source} l LEFT JOIN matches m ON l.claim_id = m.claim_id AND l.line_no = m.line_no
    """


def run_duckdb(path: Path, spec: PolicySpec) -> pl.DataFrame:
    import duckdb

    with duckdb.connect() as con:
        con.execute("SET enable_progress_bar = false")
        con.register("policy_ranges", spec.range_table().to_arrow())
        return con.sql(duckdb_query(path, spec)).pl()


def _keys(code: pl.Expr, fill: str) -> pl.Expr:
    kind = (pl.when(code.str.starts_with("V")).then(1).when(code.str.starts_with("E")).then(2)
            .otherwise(0).cast(pl.Int64))
    value = (pl.when(kind == 0).then(code.str.pad_end(5, fill))
             .otherwise(code.str.slice(1).str.pad_end(4, fill)).cast(pl.Int64))
    return ICD9_BASE + kind * KIND_STEP + value


def run_polars_join_where(path: Path, spec: PolicySpec) -> pl.DataFrame:
    lines = pl.scan_parquet(path)
    code = pl.col("code")
    codes = (
        lines.select("claim_id", "line_no", *DX_COLUMNS)
        .unpivot(on=list(DX_COLUMNS), index=["claim_id", "line_no"], value_name="code")
        .filter(code.is_not_null() & (code != ""))
        .select("claim_id", "line_no", lo=_keys(code, "0"), hi=_keys(code, "9"))
    )
    # The small table on the left: with the codes on the left the IEJoin grows faster than
    # linearly (about 7x slower at 7M codes against 5 ranges, polars 2.1).
    matches = (
        spec.range_table().lazy()
        .join_where(codes, pl.col("lo") >= pl.col("range_lo"), pl.col("hi") <= pl.col("range_hi"))
        .group_by("claim_id", "line_no")
        .agg(ranges=pl.col("range").unique().sort())
    )
    not_covered = pl.col("procedure_code").is_in(list(spec.procedures))
    return (
        lines.join(matches, on=["claim_id", "line_no"], how="left")
        .with_columns(
            determination=pl.when(not_covered).then(pl.lit(NOT_COVERED)).otherwise(pl.lit(NOT_APPLICABLE)),
            matched_dx_ranges=pl.when(not_covered).then(pl.col("ranges").fill_null([]))
            .otherwise(pl.lit([], pl.List(pl.String))),
        )
        .drop("ranges")
        .collect()
    )


# --- checking -----------------------------------------------------------------------------------

def answers(output: pl.DataFrame) -> pl.DataFrame:
    """The per-line answer: claim_id, line_no, determination, and the matched ranges of a
    not-covered line as one sorted, distinct, ";"-joined string ("" otherwise)."""
    ranges = pl.col("matched_dx_ranges").list.unique().list.sort().list.join(";").fill_null("")
    return output.select(
        "claim_id", "line_no", "determination",
        ranges=pl.when(pl.col("determination") == NOT_COVERED).then(ranges).otherwise(pl.lit("")),
    )


def differences(reference: str, ref: pl.DataFrame, engine: str, got: pl.DataFrame,
                lines: pl.DataFrame) -> tuple[int, pl.DataFrame]:
    """How many lines differ between two engines' answers (on the lines both answered, and
    any line only one of them has when ``got`` should cover all), and a few of them."""
    joined = ref.join(got, on=["claim_id", "line_no"], how="full", suffix=f"__{engine}", coalesce=True)
    if got.height < ref.height:  # a sample: compare the lines it has
        joined = joined.filter(pl.col(f"determination__{engine}").is_not_null())
    differ = joined.filter(
        pl.col("determination").ne_missing(pl.col(f"determination__{engine}"))
        | pl.col("ranges").ne_missing(pl.col(f"ranges__{engine}")))
    shown = differ.head(8).rename({"determination": f"determination__{reference}",
                                   "ranges": f"ranges__{reference}"})
    dx = pl.concat_list(DX_COLUMNS).list.drop_nulls().list.join(",").alias("dx (non-null, in order)")
    shown = shown.join(lines.select("claim_id", "line_no", "procedure_code", dx),
                       on=["claim_id", "line_no"], how="left")
    return differ.height, shown


# --- running ------------------------------------------------------------------------------------

@dataclass
class Result:
    engine: str
    runs: list[float]
    rows_run: int  # rows the engine ran over (a sample for naive)
    rows: int

    @property
    def median(self) -> float:
        """Seconds for all ``rows`` (extrapolated linearly from the sample for naive)."""
        return statistics.median(self.runs) * self.rows / self.rows_run

    @property
    def extrapolated(self) -> bool:
        return self.rows_run != self.rows


def machine() -> dict[str, object]:
    import duckdb

    return {"cores": os.cpu_count(), "python": platform.python_version(), "polars": pl.__version__,
            "duckdb": duckdb.__version__, "platform": platform.platform(), "processor": platform.machine()}


def codeindex_available() -> str | None:
    """None when ``codeindex.screen.screen`` can be imported, else why not."""
    try:
        from codeindex.screen import screen  # noqa: F401
    except ImportError as exc:
        return str(exc)
    return None


def run(args: argparse.Namespace) -> int:
    spec = PolicySpec.load("0198")
    engines = list(args.engines)
    if "codeindex" in engines and (why := codeindex_available()):
        if not args.allow_missing_codeindex:
            print(f"error: codeindex.screen is not importable: {why}", file=sys.stderr)
            return 2
        print(f"note: leaving out codeindex ({why})", file=sys.stderr)
        engines.remove("codeindex")
    t0 = time.perf_counter()
    path = claims_path(args.rows, args.seed, args.data_dir, args.share)
    log(f"data: {path} ({path.stat().st_size / 1e6:.1f} MB, ready in {time.perf_counter() - t0:.1f}s)")
    args.screened_share = pl.scan_parquet(path).select(
        pl.col("procedure_code").is_in(list(spec.procedures)).mean()).collect().item()
    sample = min(args.sample, args.rows)
    calls: dict[str, Callable[[], pl.DataFrame]] = {
        "scan": lambda: run_scan(path, spec),
        "codeindex": lambda: run_codeindex(path, spec),
        "naive": lambda: run_naive(path, spec, sample),
        "duckdb": lambda: run_duckdb(path, spec),
        "polars_join_where": lambda: run_polars_join_where(path, spec),
    }
    results = {e: Result(e, [], sample if e == "naive" else args.rows, args.rows) for e in engines}
    for rep in range(args.repeat):
        order = engines[rep % len(engines):] + engines[:rep % len(engines)]  # rotate who goes first
        outputs: dict[str, pl.DataFrame] = {}
        for engine in order:
            gc.collect()
            start = time.perf_counter()
            output = calls[engine]()
            elapsed = time.perf_counter() - start
            results[engine].runs.append(elapsed)
            if output.height != results[engine].rows_run:
                print(f"error: {engine} returned {output.height} lines for {results[engine].rows_run}",
                      file=sys.stderr)
                return 1
            if rep == 0:
                outputs[engine] = output
            del output
            log(f"  run {rep + 1}/{args.repeat} {engine:<18} {elapsed:8.3f}s")
        if rep == 0 and not check(outputs):
            return 1
        outputs.clear()
    report(results, args)
    return 0


def check(outputs: dict[str, pl.DataFrame]) -> bool:
    """True when every engine gave every line the same answer; else prints what differs."""
    lines = outputs.get("scan")
    if lines is None:
        lines = next(o for o in outputs.values())
    answering = [e for e in outputs if e != "scan"]
    if len(answering) < 2:
        return True
    reference = "codeindex" if "codeindex" in answering else next(e for e in answering if e != "naive")
    ref = answers(outputs[reference])
    ok = True
    for engine in answering:
        if engine == reference:
            continue
        count, shown = differences(reference, ref, engine, answers(outputs[engine]), lines)
        if count:
            ok = False
            print(f"error: {engine} and {reference} differ on {count} lines; for example:", file=sys.stderr)
            with pl.Config(tbl_cols=-1, tbl_width_chars=250, fmt_str_lengths=80, tbl_rows=20):
                print(shown, file=sys.stderr)
        else:
            log(f"check: {engine} agrees with {reference} on all {outputs[engine].height:,} lines")
    counts = ref.group_by("determination").len().sort("determination").rows()
    matched = ref.filter(pl.col("ranges") != "").height
    log(f"answers: {', '.join(f'{d} {n:,}' for d, n in counts)}; not-covered lines with a matched range "
        f"{matched:,}")
    return ok


def report(results: dict[str, Result], args: argparse.Namespace) -> None:
    base = results.get("codeindex")
    info = machine()
    print(f"\n{args.rows:,} claim lines, {args.screened_share:.1%} of them with a procedure the policy names, "
          f"CPB 0198 (ICD-9 version); median of {args.repeat} runs; "
          f"{info['cores']} cores, Python {info['python']}, polars {info['polars']}, duckdb {info['duckdb']}")
    print(f"{'engine':<19}{'median s':>10}{'lines/s':>14}{'x codeindex':>13}  note")
    notes = {"scan": "floor: read the parquet, nothing else",
             "codeindex": "codeindex.screen.screen(path).collect()",
             "duckdb": "UNPIVOT + range join (default plan) + regroup, to polars",
             "polars_join_where": "unpivot + join_where (ranges on the left) + regroup"}
    for engine, r in results.items():
        note = notes.get(engine, "")
        if r.extrapolated:
            note = f"extrapolated from {r.rows_run:,} rows (per-row Python)"
        ratio = f"{r.median / base.median:.2f}" if base else "-"
        print(f"{engine:<19}{r.median:>10.3f}{r.rows / r.median:>14,.0f}{ratio:>13}  {note}")
    if args.json:
        payload = {
            "rows": args.rows, "seed": args.seed, "repeat": args.repeat, "machine": info,
            "share_requested": args.share, "share_screened": args.screened_share,
            "engines": {
                e: {"median_s": r.median, "runs_s": r.runs, "lines_per_s": r.rows / r.median,
                    "ratio_to_codeindex": r.median / base.median if base else None,
                    "extrapolated": r.extrapolated, "rows_timed": r.rows_run}
                for e, r in results.items()},
        }
        Path(args.json).write_text(json.dumps(payload, indent=2) + "\n")
        print(f"wrote {args.json}")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="claim lines (default 1,000,000)")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--repeat", type=int, default=5, help="runs per engine; the median counts (default 5)")
    parser.add_argument("--seed", type=int, default=0, help="data seed (default 0)")
    parser.add_argument("--share", type=float, default=SPECIAL_RATE,
                        help=f"share of lines drawn with a procedure the policy names (default {SPECIAL_RATE}; "
                             "add-ons that follow a 97545 come on top: on 500,000 lines 0.004 gives 0.5 %% of lines, "
                             "0.0068 0.8 %%, 0.085 10 %%, 1 all)")
    parser.add_argument("--sample", type=int, default=50_000,
                        help="rows the naive engine runs over, extrapolated to --rows (default 50,000)")
    parser.add_argument("--engines", type=lambda s: [e.strip() for e in s.split(",")], default=list(ENGINES),
                        help=f"comma-separated subset of {','.join(ENGINES)}")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR, help=f"cache of generated data ({DATA_DIR})")
    parser.add_argument("--allow-missing-codeindex", action="store_true",
                        help="run without codeindex when codeindex.screen cannot be imported")
    args = parser.parse_args(argv)
    unknown = [e for e in args.engines if e not in ENGINES]
    if unknown or args.rows < 1 or args.repeat < 1 or args.sample < 1:
        parser.error(f"unknown engines {unknown}" if unknown else "--rows, --repeat and --sample must be >= 1")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
