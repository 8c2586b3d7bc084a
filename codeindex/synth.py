"""Seeded, realistic sample claims in either layout, for demos, tests and benchmarks.

Real ICD-9 and ICD-10 codes from the bundled code sets, dates on both sides of
2015-10-01, a small share of the policy's procedures (97545, 97546, 97537, S9117)
among everyday ones, some 97546 without its 97545, some truncated and malformed
codes, and amounts.  The same seed gives the same file.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path

import polars as pl

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
