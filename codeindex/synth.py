"""Seeded, realistic sample claims in either layout, for demos, tests and benchmarks.

Real ICD-9 and ICD-10 codes from the bundled code sets, dates on both sides of
2015-10-01, a small share of the policy's procedures (97545, 97546, 97537, S9117)
among everyday ones, some 97546 without its 97545, some truncated and malformed
codes, and amounts.  The same seed gives the same file.

Also a library of synthetic bulletins (``policy_library``, ``write_policy_library``) in the layout of
the bundled CPB 0198, for screening many policies at once: the same seed gives the same library.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path

import polars as pl

from codeindex.code import KIND_BITS
from codeindex.codesets import code_set
from codeindex.screen.layouts import SYNPUF_CLAIM_DX, SYNPUF_LINES

EVERYDAY = ["99213", "99214", "97110", "97140", "97530", "97112", "99203", "36415", "80053", "85025",
            "G0283", "J1100", "A4550", "71046", "93000", "0001F", "0016T"]
POLICY = ["97545", "97546", "97537", "S9117"]
MALFORMED = ["8OO.00", "V57.2.2", "99999999", "XYZ", " 812.01 ", "v5722", "NULL", "E880.12"]
TRUNCATED9 = ["V15", "800", "410", "V57", "E880", "8120"]
TRUNCATED10 = ["S72", "Z87", "Z8781", "M54"]


def _pools(rng: random.Random) -> tuple[list[str], list[str]]:
    # The releases the sample was first drawn from, in their key order then (ICD-10-CM's by characters),
    # so that a seed gives the same file whatever releases are bundled.
    icd9 = code_set("icd9dx", release="v32").table["short"].to_list()
    icd10 = sorted(code_set("icd10cm", release="FY2024").table["short"])
    # Claims cluster on common codes: draw a working set, weighted towards injuries and history codes.
    injuries9 = [c for c in icd9 if c[:1].isdigit() and c >= "800"] + [c for c in icd9 if c.startswith(("V1", "V57"))]
    injuries10 = [c for c in icd10 if c[0] in "ST"] + [c for c in icd10 if c.startswith(("Z85", "Z87", "Z51"))]
    return (rng.sample(icd9, 3000) + rng.sample(injuries9, 600), rng.sample(icd10, 3000) + rng.sample(injuries10, 600))


def _service_date(rng: random.Random, icd9_era: bool) -> date:
    start, days = (date(2012, 1, 1), 1368) if icd9_era else (date(2015, 10, 1), 1500)
    return start + timedelta(days=rng.randrange(days))


def _diagnosis(rng: random.Random, pool: list[str], truncated: list[str]) -> str | None:
    roll = rng.random()
    if roll < 0.004:
        return rng.choice(MALFORMED)
    if roll < 0.012:
        return rng.choice(truncated)
    return rng.choice(pool)


def _procedure(rng: random.Random) -> str:
    """An everyday procedure code, now and then a malformed one (the policy's come per claim)."""
    if rng.random() < 0.001:
        return rng.choice(["97545-GP", "9754", "", "97545 "])
    return rng.choice(EVERYDAY)


def long_claims(rows: int, seed: int = 0, dx_columns: int = 12, policy_share: float = 0.01) -> pl.DataFrame:
    """``rows`` claim lines in the long layout."""
    rng = random.Random(seed)
    pool9, pool10 = _pools(rng)
    columns: dict[str, list[object]] = {n: [] for n in ("claim_id", "line_no", "procedure_code", "service_date",
                                                "paid_amount")}
    dx: list[list[str | None]] = [[] for _ in range(dx_columns)]
    claim = 0
    while len(columns["claim_id"]) < rows:
        claim += 1
        icd9_era = rng.random() < 0.5
        pool, truncated = (pool9, TRUNCATED9) if icd9_era else (pool10, TRUNCATED10)
        day = _service_date(rng, icd9_era)
        n_dx = rng.randint(1, dx_columns)
        claim_dx = [_diagnosis(rng, pool, truncated) for _ in range(n_dx)] + [None] * (dx_columns - n_dx)
        procedures = [_procedure(rng) for _ in range(rng.randint(1, 4))]
        if rng.random() < policy_share * 3:  # a work-hardening claim: 97545 and its add-on hours
            procedures = ["97545"] + ["97546"] * rng.randint(0, 3) if rng.random() < 0.8 else ["97546"]
            if not icd9_era and rng.random() < 0.3:
                procedures.append(rng.choice(["97537", "S9117"]))
        for line_no, procedure in enumerate(procedures[: rows - len(columns["claim_id"])], start=1):
            columns["claim_id"].append(claim)
            columns["line_no"].append(line_no)
            columns["procedure_code"].append(procedure)
            columns["service_date"].append(day)
            columns["paid_amount"].append(round(rng.uniform(15, 400), 2))
            for i in range(dx_columns):
                dx[i].append(claim_dx[i] if line_no == 1 or rng.random() < 0.9 else None)
    frame = pl.DataFrame(columns, schema={"claim_id": pl.Int64, "line_no": pl.Int32, "procedure_code": pl.String,
                                          "service_date": pl.Date, "paid_amount": pl.Float64})
    return frame.with_columns(pl.Series(f"dx{i + 1}", dx[i], dtype=pl.String) for i in range(dx_columns)).select(
        "claim_id", "line_no", "procedure_code", *[f"dx{i + 1}" for i in range(dx_columns)],
        "service_date", "paid_amount")


def synpuf_carrier_claims(claims: int, seed: int = 0, policy_share: float = 0.02) -> pl.DataFrame:
    """``claims`` carrier claims in the CMS DE-SynPUF layout (2008-2010, ICD-9)."""
    rng = random.Random(seed)
    pool9, _ = _pools(rng)
    records = []
    for n in range(claims):
        day = date(2008, 1, 1) + timedelta(days=rng.randrange(1096))
        record: dict[str, object] = {"DESYNPUF_ID": f"{rng.getrandbits(64):016X}", "CLM_ID": str(887183000000000 + n),
                                     "CLM_FROM_DT": int(day.strftime("%Y%m%d"))}
        for i in range(1, SYNPUF_CLAIM_DX + 1):
            record[f"ICD9_DGNS_CD_{i}"] = _diagnosis(rng, pool9, TRUNCATED9) if i <= rng.randint(1, 8) else None
        procedures = [_procedure(rng) for _ in range(rng.randint(1, 5))]
        if rng.random() < policy_share:
            procedures = ["97545", "97546"] if rng.random() < 0.8 else ["97546"]
        for i in range(1, SYNPUF_LINES + 1):
            has_line = i <= len(procedures)
            record[f"HCPCS_CD_{i}"] = procedures[i - 1] if has_line else None
            record[f"LINE_ICD9_DGNS_CD_{i}"] = _diagnosis(rng, pool9, TRUNCATED9) if has_line else None
            record[f"LINE_NCH_PMT_AMT_{i}"] = round(rng.uniform(10, 300), 2) if has_line else 0.0
        records.append(record)
    return pl.DataFrame(records, infer_schema_length=None)


def write_sample(path: str | Path, rows: int, layout: str = "long", seed: int = 0) -> Path:
    """Write ``rows`` lines (long) or claims (synpuf-carrier) to a parquet or CSV file."""
    frame = long_claims(rows, seed) if layout == "long" else synpuf_carrier_claims(rows, seed)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".csv":
        frame.write_csv(path)
    else:
        frame.write_parquet(path)
    return path


# --- a library of synthetic policies --------------------------------------------------------------------------------
#
# Bulletins in the layout of data/policies/0198.txt (an ICD-9 and an ICD-10 code section; CPT/HCPCS groups under
# coverage headers, add-ons written "+ 97546"; diagnosis groups of codes, ranges and lists), for the benchmarks and
# tests of screening many policies at once.  Procedures are drawn mostly from codes the sample and benchmark claims
# never carry, so the share of lines a library names grows with it as a real one's would: some policies name the
# claims' physical-medicine codes, a few their visits, some share 97545/97546 with CPB 0198.  Diagnosis ranges run
# between codes the pinned code-set releases define, in their key order (ICD-10-CM: tabular), so they overlap across
# policies as real bulletins' do.

# The procedures the claims here and in benchmarks/compare.py draw, by how a library names them.
PHYSICAL_MEDICINE = ["97110", "97140", "97530", "97112", "97035", "97161", "97750", "G0283", "97537", "S9117"]
VISITS = ["99213", "99214", "99203"]
CLAIM_PROCEDURES = frozenset(EVERYDAY + POLICY + PHYSICAL_MEDICINE + VISITS)
_POLICY_COVERAGE = {  # coverage -> the status words of a group header, as bulletins write them
    "not_covered": "not covered for indications listed in the CPB",
    "covered_if_criteria_met": "covered if selection criteria are met",
    "related": "related to the CPB",
}
_PROCEDURE_WORDS = ["Arthroscopy, surgical", "Injection, anesthetic agent", "Magnetic resonance imaging",
                    "Therapeutic procedure", "Genetic analysis", "Excision of lesion", "Implantation of device",
                    "Laboratory panel", "Electrical stimulation", "Radiologic examination", "Psychological testing",
                    "Infusion, each additional hour", "Biofeedback training", "Orthotic management"]
_DX_WORDS = ["Conditions in this range", "Related diagnoses", "Disorders as listed", "Other specified conditions"]
_CODE_LIKE = re.compile(r"[^\W\d_]?\d|(?:and|or|&|\+|~|\.\.)\W", re.I)  # what a description must not start with


@dataclass(frozen=True)
class SyntheticPolicy:
    """A generated bulletin: its id, its text, and what ``parse_cpb`` must read from it: per group, in the
    bulletin's order, ``(era, system, coverage, entries, add_ons)``."""

    id: str
    text: str
    groups: tuple[tuple[str, str, str, int, int], ...]

    @property
    def entries(self) -> int:
        return sum(g[3] for g in self.groups)


@dataclass
class _DxPool:
    system: str
    shorts: list[str]  # every defined code of the pinned release, in key order
    kinds: list[int]  # the kind of each (ICD-9-CM: numeric, V, E), which a range stays within
    descriptions: list[str | None]
    categories: list[int]  # where each category (ICD-9-CM: 3 characters, E 4; ICD-10-CM: 3) starts, and the end

    @classmethod
    def load(cls, system: str, release: str) -> _DxPool:
        table = code_set(system, release=release).defined_codes
        shorts = table["short"].to_list()
        categories = [i for i, short in enumerate(shorts)
                      if i == 0 or _category(system, short) != _category(system, shorts[i - 1])]
        return cls(system, shorts, [lo >> KIND_BITS for lo in table["lo"].to_list()],
                   table["description"].to_list(), [*categories, len(shorts)])

    def draw(self, rng: random.Random) -> int:
        """A code's position: a category drawn uniformly (not by its number of codes), then a code of it."""
        c = rng.randrange(len(self.categories) - 1)
        return rng.randrange(self.categories[c], self.categories[c + 1])

    def decimal(self, at: int) -> str:
        short = self.shorts[at]
        major = 4 if self.system == "icd9dx" and short.startswith("E") else 3
        return short if len(short) <= major else f"{short[:major]}.{short[major:]}"


def _category(system: str, short: str) -> str:
    return short[:4] if system == "icd9dx" and short.startswith("E") else short[:3]


@cache
def _dx_pools() -> dict[str, _DxPool]:
    # Pinned releases, as the sample's, so that a seed gives the same library whatever releases are bundled.
    return {"icd9": _DxPool.load("icd9dx", "v32"), "icd10": _DxPool.load("icd10cm", "FY2026")}


def _description(rng: random.Random, text: str | None, words: list[str]) -> str:
    text = " ".join((text or "").split())
    return text if text and not _CODE_LIKE.match(text) and "|" not in text else rng.choice(words)


def _cpt(rng: random.Random) -> str:
    """A CPT or HCPCS code the claims never carry (none in 97000-99999: their physical medicine and visits)."""
    while True:
        if rng.random() < 0.2:
            code = rng.choice("AEGJKLQS") + f"{rng.randrange(10000):04d}"
        else:
            low, high = rng.choice([(10021, 69990), (70010, 79999), (80047, 89398), (90281, 96999)])
            code = f"{rng.randint(low, high):05d}"
        if code not in CLAIM_PROCEDURES:
            return code


def _procedure_lines(rng: random.Random, taken: set[str]) -> tuple[list[str], int, int]:
    """The code lines of one procedure group drawn from codes the claims never carry and no other group of the
    bulletin holds (``taken``, which grows: one code in two groups of different coverage is a contradiction):
    lines, entries, add-ons."""
    lines, add_ons = [], 0
    count = 1 + min(int(rng.expovariate(1 / 3)), 19)
    previous_primary = False

    def fresh() -> str:
        while (code := _cpt(rng)) in taken:
            pass
        taken.add(code)
        return code

    for _ in range(count):
        roll = rng.random()
        if previous_primary and roll < 0.15:
            code = fresh()
            lines.append(f"+ {code}     each additional unit (List separately in addition to code for primary "
                         "procedure)")
            add_ons += 1
            previous_primary = False
            continue
        code = fresh()
        if roll > 0.85 and code.isdigit():
            end = int(code) + rng.randint(1, 30)
            spanned = {f"{c:05d}" for c in range(int(code) + 1, end + 1)}
            if not any(c.isdigit() and int(code) <= int(c) <= end for c in CLAIM_PROCEDURES) and end < 100000 \
                    and not spanned & taken:
                taken.update(spanned)
                lines.append(f"{code} - {end:05d} {rng.choice(_PROCEDURE_WORDS)}")
                previous_primary = False
                continue
        lines.append(f"{code} {rng.choice(_PROCEDURE_WORDS)}")
        previous_primary = True
    return lines, count, add_ons


def _dx_lines(rng: random.Random, pool: _DxPool, count: int) -> list[str]:
    """``count`` diagnosis entries as code lines: single codes, narrow and wide ranges, pairs written as a list with
    their description on the next line; ICD-10-CM codes of seven characters now and then as "any 7th character"."""
    n = len(pool.shorts)

    def written(at: int, after: int | None = None) -> str:
        """A code as written; "+" for its 7th character now and then (not at a range's end that would then start
        before the range's start)."""
        text, short = pool.decimal(at), pool.shorts[at]
        plus = pool.system == "icd10cm" and len(short) == 7 and rng.random() < 0.3
        return text[:-1] + "+" if plus and (after is None or pool.shorts[after][:6] != short[:6]) else text

    lines: list[str] = []
    left = count
    while left:
        start = pool.draw(rng)
        roll = rng.random()
        description = _description(rng, pool.descriptions[start], _DX_WORDS)
        if roll < 0.35:
            lines.append(f"{written(start)} {description}")
        elif roll < 0.9 or left < 2:
            width = rng.randint(1, 40) if roll < 0.75 else rng.randint(40, 3000)
            end = min(start + width, n - 1)
            while pool.kinds[end] != pool.kinds[start]:  # a range stays within one kind
                end -= 1
            lines.append(f"{written(start)} - {written(end, after=start)} {description}")
        else:
            other = pool.draw(rng)
            lines += [f"{written(start)}, {written(other)}", description]
            left -= 1
        left -= 1
    return lines


def synthetic_policy(index: int, seed: int = 0) -> SyntheticPolicy:
    """Bulletin ``index`` of the library of ``seed``: the same whatever the library's size (a library of 10 is the
    first 10 of a library of 500)."""
    rng = random.Random(f"codeindex policy library {seed} {index}")
    pools = _dx_pools()
    policy_id = f"S{index + 1:04d}"
    # The procedure groups: (system, coverage, lines, entries, add-ons), the ICD-10 version's possibly with more.
    procedures: list[tuple[str, str, list[str], int, int]] = []
    if rng.random() < 0.06:  # shares CPB 0198's codes
        procedures.append(("CPT", "not_covered", ["97545 Work hardening/conditioning; initial 2 hours",
                                                   "+ 97546     each additional hour"], 2, 1))
    if rng.random() < 0.02:  # names some of the claims' physical medicine
        codes = rng.sample(PHYSICAL_MEDICINE, rng.randint(1, 2))
        procedures.append(("CPT", rng.choice(list(_POLICY_COVERAGE)), [f"{c} Physical medicine" for c in codes],
                           len(codes), 0))
    if rng.random() < 0.003:  # names one of the claims' visits
        procedures.append(("CPT", "related", [f"{rng.choice(VISITS)} Office visit"], 1, 0))
    taken: set[str] = set()
    for _ in range(rng.randint(1, 3)):
        lines, entries, add_ons = _procedure_lines(rng, taken)
        procedures.append(("CPT" if rng.random() < 0.8 else "HCPCS", rng.choice(list(_POLICY_COVERAGE)), lines,
                           entries, add_ons))
    icd10_extra = _procedure_lines(rng, taken) if rng.random() < 0.3 else None

    text = [f"Clinical Policy Bulletin: Synthetic Policy {index + 1}", f"Number: {policy_id}",
            f"Source: codeindex.synth.synthetic_policy({index}, seed={seed})", "",
            "Aetna considers the services below as the groups say; this bulletin is generated for benchmarks.", ""]
    groups: list[tuple[str, str, str, int, int]] = []
    for era, label in (("icd9", "ICD-9"), ("icd10", "ICD-10")):
        text += [f"CPT Codes / HCPCS Codes / {label} Codes", ""]
        if era == "icd10":
            text += ["Code Code Description", "", "Codes requiring a 7th character are represented by \"+\":", ""]
        era_procedures = procedures + ([("CPT", "not_covered", *icd10_extra)] if era == "icd10" and icd10_extra
                                       else [])
        for system, coverage, lines, entries, add_ons in era_procedures:
            other = "Other " if coverage == "related" else ""
            text += [f"{other}{system} codes {_POLICY_COVERAGE[coverage]}:", *lines, ""]
            groups.append((era, "hcpcs", coverage, entries, add_ons))
        mean = 6 if era == "icd9" else 12
        # A version's diagnosis lists are on one side, covered or not (a code in both would be a contradiction),
        # or related.
        side = rng.choice(["not_covered", "covered_if_criteria_met"])
        for _ in range(rng.randint(1, 3)):
            coverage = side if rng.random() < 0.67 else "related"
            count = 1 + min(int(rng.expovariate(1 / mean)), 8 * mean)
            inclusive = " (not all-inclusive)" if rng.random() < 0.5 else ""
            other = "Other " if coverage == "related" else ""
            text += [f"{other}{label} codes {_POLICY_COVERAGE[coverage]}{inclusive}:",
                     *_dx_lines(rng, pools[era], count), ""]
            groups.append((era, pools[era].system, coverage, count, 0))
    text += ["The above policy is based on the following references:", "1. A synthetic reference."]
    return SyntheticPolicy(policy_id, "\n".join(text) + "\n", tuple(groups))


def policy_library(n: int, seed: int = 0) -> list[SyntheticPolicy]:
    """The first ``n`` bulletins of the library of ``seed``."""
    return [synthetic_policy(i, seed) for i in range(n)]


def write_policy_library(directory: str | Path, n: int, seed: int = 0) -> list[Path]:
    """Write the first ``n`` bulletins of the library of ``seed`` as ``<id>.txt`` in ``directory``; their paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for policy in policy_library(n, seed):
        path = directory / f"{policy.id}.txt"
        path.write_text(policy.text, encoding="utf-8")
        paths.append(path)
    return paths


# ------------------------------------------------------------------------------------------------ NCCI files
# Synthetic CMS NCCI edit files in the layouts CMS publishes (codeindex.policy.ncci says what is known of them
# and where from).  Real files are downloaded, one zip per quarter and kind, from
# https://www.cms.gov/medicare/coding-billing/national-correct-coding-initiative-ncci-edits (PTP, MUE and
# add-on code pages beneath it).  Whatever the size asked, the tables hold these rows around CPB 0198's codes,
# so that tests and benchmarks hit them deterministically (synthetic, if plausible, edits: not CMS's).

NCCI_PTP_FIXED = (  # column 1, column 2, in existence before 1996, effective, deletion, modifier, rationale
    ("97140", "97530", "", "20200101", "*", "1", "Mutually exclusive procedures"),
    ("97530", "97750", "", "20000101", "*", "1", "Standards of medical / surgical services"),
    ("97530", "97150", "*", "19960101", "*", "0", "Mutually exclusive procedures"),
    ("97530", "97140", "", "20200101", "20200101", "9", "Misuse of column two code with column one code"),
    ("97545", "97750", "", "20100101", "20231231", "1", "Standards of medical / surgical services"),
)
NCCI_MUE_FIXED = (  # code, MUE value, adjudication indicator, rationale (every quarter, every setting)
    ("97545", "1", "2 Date of Service Edit: Policy", "CMS Policy"),
    ("97546", "6", "3 Date of Service Edit: Clinical", "Clinical: Data"),
)
NCCI_AOC_FIXED = (  # add-on, primary, type, add-on deleted, primary deleted, edit effective, edit deleted, notes
    ("97546", "97545", "1", "", "", "2000001", "", ""),
)
NCCI_PTP_RELEASE = "v320r0"
NCCI_MUE_QUARTERS = ("10-01-2025", "01-01-2026")
NCCI_AOC_RELEASE = "V2026Q1"
_NCCI_NOTICE = "CPT® only copyright 2025 American Medical Association. All rights reserved."
_PTP_RATIONALES = ("Standards of medical / surgical services", "Mutually exclusive procedures",
                   "CPT Manual or CMS manual coding instructions", "Misuse of column two code with column one code",
                   "More extensive procedure", "HCPCS/CPT procedure code definition", "Laboratory panel",
                   "Standard preparation / monitoring services for anesthesia", "CMS policy")
_MUE_RATIONALES = ("Clinical: Data", "Code Descriptor / CPT Instruction", "Nature of Service/Procedure",
                   "Anatomic Consideration", "CMS Policy", "Prescribing Information", "Clinical: Society Comment")
_MAI = ("1 Line Edit", "2 Date of Service Edit: Policy", "3 Date of Service Edit: Clinical")
_MUE_FILE_SETTING = {"practitioner": ("PractitionerServices", "Practitioner Services MUE Values"),
                     "outpatient_hospital": ("OutpatientHospitalServices", "Outpatient Hospital Services MUE Values"),
                     "dme": ("DMESupplierServices", "DME Supplier Services MUE Values")}


def _ncci_codes(rng: random.Random, n: int, avoid: set[str]) -> list[str]:
    """``n`` distinct, valid CPT/HCPCS codes (none of ``avoid``), sorted."""
    codes: set[str] = set()
    while len(codes) < n:
        roll = rng.random()
        if roll < 0.8:
            code = f"{rng.randint(100, 99607):05d}"
        elif roll < 0.85:
            code = f"{rng.randint(1, 999):04d}T"
        else:
            code = rng.choice("AEGJKLQS") + f"{rng.randrange(10000):04d}"
        if code not in avoid:
            codes.add(code)
    return sorted(codes)


def _quarter_start(rng: random.Random, first: int = 1996, last: int = 2025) -> date:
    return date(rng.randint(first, last), rng.choice((1, 4, 7, 10)), 1)


def _ptp_rows(rng: random.Random, rows: int, claim_pairs: float) -> list[str]:
    fixed = {(r[0], r[1]) for r in NCCI_PTP_FIXED}
    claimed = sorted(CLAIM_PROCEDURES)
    pool = _ncci_codes(rng, max(200, min(20_000, int(rows ** 0.5 * 4))), {c for p in fixed for c in p} | set(claimed))
    # A share of the ordered pairs among the codes the synthetic claims bill, as real tables pair visits and
    # therapy codes: so the claims draw edits (as many as the rows allow).
    pairs = {(one, two) for one in claimed for two in claimed
             if one != two and (one, two) not in fixed and rng.random() < claim_pairs}
    pairs = set(sorted(pairs)[:max(0, rows - len(NCCI_PTP_FIXED))])
    wanted = max(0, rows - len(NCCI_PTP_FIXED))
    while len(pairs) < wanted:
        one, two = rng.choice(pool), rng.choice(pool)
        if one != two:
            pairs.add((one, two))
    lines = ["\t".join(r) for r in NCCI_PTP_FIXED]
    for one, two in sorted(pairs):  # a set's order changes with each process's string hashing; a sorted list's not
        start = _quarter_start(rng)
        roll = rng.random()
        if roll < 0.85:
            deletion, modifier = "*", "1" if rng.random() < 0.8 else "0"
        elif roll < 0.95:
            end = _quarter_start(rng, start.year + 1, 2026) - timedelta(days=1)
            deletion, modifier = end.strftime("%Y%m%d"), rng.choice("01")
        else:
            deletion, modifier = start.strftime("%Y%m%d"), "9"
        prior = "*" if start.year == 1996 and rng.random() < 0.5 else ""
        lines.append(f"{one}\t{two}\t{prior}\t{start:%Y%m%d}\t{deletion}\t{modifier}\t{rng.choice(_PTP_RATIONALES)}")
    lines.sort()  # the parts are column-1 code ranges
    return lines


def _write_ptp(directory: Path, setting: str, rows: int, rng: random.Random, claim_pairs: float) -> list[Path]:
    lines = _ptp_rows(rng, rows, claim_pairs)
    head = [_NCCI_NOTICE, "Column1/Column2 Edits",
            "Column 1\tColumn 2\t*=in existence prior to 1996\tEffective Date\tDeletion Date\tModifier\t"
            "PTP Edit Rationale",
            "\t\t\t\t*=no data\t0=not allowed\t", "\t\t\t\t\t1=allowed\t", "\t\t\t\t\t9=not applicable\t"]
    prefix = "ccipra" if setting == "practitioner" else "ccioph"
    paths = []
    for part in range(4):
        chunk = lines[len(lines) * part // 4: len(lines) * (part + 1) // 4]
        path = directory / f"{prefix}-{NCCI_PTP_RELEASE}-f{part + 1}.txt"
        path.write_bytes(("\r\n".join(head + chunk) + "\r\n").encode("cp1252"))
        paths.append(path)
    return paths


def _csv_cell(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\n') else text


def _write_mue(directory: Path, setting: str, codes: int, rng: random.Random, quarters: Sequence[str]) -> list[Path]:
    fixed = {r[0] for r in NCCI_MUE_FIXED}
    claimed = sorted(CLAIM_PROCEDURES - fixed)[:max(0, codes - len(NCCI_MUE_FIXED))]  # the claims' codes have MUEs
    pool = sorted([*claimed, *_ncci_codes(rng, max(0, codes - len(NCCI_MUE_FIXED) - len(claimed)),
                                          fixed | set(claimed))])
    values = {c: (str(rng.choice((2, 3, 4, 6, 8) if c in claimed else (0, 1, 1, 1, 2, 2, 3, 4, 6, 10, 20, 99))),
                  rng.choice(_MAI), rng.choice(_MUE_RATIONALES)) for c in pool}  # the claims' codes: 2 to 8 units
    name, column = _MUE_FILE_SETTING[setting]
    notice = (f"{_NCCI_NOTICE} Applicable FARS/HHSARS apply.\nFee schedules, relative value units, conversion "
              "factors and/or related components are not assigned by the AMA, are not part of CPT, and the AMA is "
              "not recommending their use.\nThe AMA does not directly or indirectly practice medicine or dispense "
              "medical services.")
    paths = []
    for quarter in quarters:
        if quarter != quarters[0]:  # the next quarter changes a few values
            for code in rng.sample(pool, min(len(pool), max(1, len(pool) // 100))):
                values[code] = (str(int(values[code][0]) + 1), values[code][1], values[code][2])
        rows = [(c, *v) for c, *v in NCCI_MUE_FIXED] + [(c, *values[c]) for c in pool]
        rows.sort()
        text = [_csv_cell(notice) + ",,,", '"HCPCS/\nCPT Code",' + _csv_cell(column) + ",MUE Adjudication Indicator,"
                "MUE Rationale"]
        text += [",".join(_csv_cell(x) for x in row) for row in rows]
        path = directory / f"MCR_MUE_{name}_Eff_{quarter}.csv"
        path.write_bytes(("\r\n".join(text) + "\r\n").encode("cp1252"))
        paths.append(path)
    return paths


def _julian(day: date) -> str:
    return f"{day.year}{day.timetuple().tm_yday:03d}"


def _write_aoc(directory: Path, pairs: int, rng: random.Random) -> Path:
    fixed = {c for r in NCCI_AOC_FIXED for c in r[:2]}
    pool = _ncci_codes(rng, max(50, pairs * 2), fixed)
    add_ons = pool[: max(1, pairs // 5)]
    primaries = pool[len(add_ons):]
    rows = [list(r) for r in NCCI_AOC_FIXED]
    taken = {(r[0], r[1]) for r in rows}
    while len(rows) < pairs:
        add_on = rng.choice(add_ons)
        kind = "2" if add_on.endswith(("7", "9")) else rng.choice("13")
        primary = "CCCCC" if kind == "2" else rng.choice(primaries)
        if (add_on, primary) in taken:
            continue
        taken.add((add_on, primary))
        start = _quarter_start(rng, 2000, 2025)
        deleted = _julian(_quarter_start(rng, start.year + 1, 2026) - timedelta(days=1)) if rng.random() < 0.1 else ""
        notes = "CCCCC = Contractor Defined Primary Codes" if kind == "2" else ""
        rows.append([add_on, primary, kind, "", "", _julian(start), deleted, notes])
    rows.sort()
    header = ("Add-on Code\tPrimary Code\tAOC Edit Type\tAOC Del Dt (Julian)\tPrimary Code Del Dt (Julian)\t"
              "AOC Edit Eff Dt (Julian)\tAOC Edit Del Dt (Julian)\tSpecial Instruction Notes")
    path = directory / f"AOC_{NCCI_AOC_RELEASE}-MCR.txt"
    path.write_bytes(("\r\n".join([header] + ["\t".join(r) for r in rows]) + "\r\n").encode("cp1252"))
    return path


def write_ncci_files(directory: str | Path, *, ptp_rows: int = 2_000_000, mue_codes: int = 15_000,
                     aoc_pairs: int = 1_000, seed: int = 0, settings: tuple[str, ...] = ("practitioner",),
                     mue_quarters: Sequence[str] = NCCI_MUE_QUARTERS, claim_pairs: float = 0.1) -> list[Path]:
    """Write synthetic NCCI edit files in CMS's published layouts (notice rows, header rows, CRLF, cp1252) into
    ``directory``: per PTP setting (practitioner, outpatient_hospital) four parts of ``ptp_rows`` edits in all;
    per setting (those and dme) an MUE file of ``mue_codes`` codes for each of ``mue_quarters`` (MM-DD-YYYY, as
    CMS names them); one add-on code file of ``aoc_pairs`` edits.  The ``NCCI_*_FIXED`` rows are among them, and
    so are MUEs of the codes the synthetic claims bill (``CLAIM_PROCEDURES``) and a share ``claim_pairs`` of the
    ordered pairs among them.  The same seed gives the
    same files.  Real files are downloaded from https://www.cms.gov/medicare/coding-billing/national-correct-coding-initiative-ncci-edits."""
    unknown = set(settings) - set(_MUE_FILE_SETTING)
    if unknown:
        raise ValueError(f"unknown NCCI settings {sorted(unknown)} (practitioner, outpatient_hospital, dme)")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    paths: list[Path] = []
    for setting in settings:
        if setting != "dme":
            paths += _write_ptp(directory, setting, ptp_rows, rng, claim_pairs)
        paths += _write_mue(directory, setting, mue_codes, rng, mue_quarters)
    paths.append(_write_aoc(directory, aoc_pairs, rng))
    return paths
