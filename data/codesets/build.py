"""Build the bundled ICD diagnosis code sets from the CMS release files (run once; see data/README.md).

    python data/codesets/build.py /path/to/shared/data/cms

writes ``icd10cm.parquet`` (every ICD-10-CM code ever defined FY2016-FY2026, in the one tabular order,
with its status in each release) and ``icd9dx.parquet`` (every ICD-9-CM diagnosis code billable in
v27-v32, with its status in each version).  It checks, and refuses to write otherwise, that each
release's own order is the one order restricted to that release (bar the one documented reordering).
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

import polars as pl

HERE = Path(__file__).resolve().parent
# (release id, file stem, in force from); April 2024/2025/2026 changed no code: their order files are
# the October ones.  FY2020 April (U07.0, U07.1) is rebuilt: FY2020 plus FY2021's U07 rows.
ICD10_RELEASES = [  # (release, its order file, its codes file, in force from)
    ("FY2016", "FY2016", "FY2016", "2015-10-01"), ("FY2017", "FY2017", "FY2017", "2016-10-01"),
    ("FY2018", "FY2018", "FY2018", "2017-10-01"), ("FY2019", "FY2019", "FY2019", "2018-10-01"),
    ("FY2020", "FY2020", "FY2020", "2019-10-01"), ("FY2020 April", None, None, "2020-04-01"),
    ("FY2021", "FY2021", "FY2021", "2020-10-01"),
    ("FY2021 January", "FY2021_Jan2021update", "FY2021_Jan2021update", "2021-01-01"),
    ("FY2022", "FY2022", "FY2022", "2021-10-01"), ("FY2022 April", "FY2022_April", "FY2022_April", "2022-04-01"),
    ("FY2023", "FY2023", "FY2023", "2022-10-01"), ("FY2023 April", "FY2023_April", "FY2023_April", "2023-04-01"),
    ("FY2024", "FY2024", "FY2024", "2023-10-01"), ("FY2024 April", "FY2024", "FY2024_April", "2024-04-01"),
    ("FY2025", "FY2025", "FY2025", "2024-10-01"), ("FY2025 April", "FY2025", "FY2025_April", "2025-04-01"),
    ("FY2026", "FY2026", "FY2026", "2025-10-01"), ("FY2026 April", "FY2026", "FY2026_April", "2026-04-01"),
]
ICD9_RELEASES = [(f"v{v}", f"v{v}", f"{v + 1982}-10-01") for v in range(27, 33)]
# The one reordering between releases: FY2022 moved the V02.03-/V06.13- groups after V02.02-/V06.12-.
REORDERED = ("V0203", "V0613")


def _order(cms: Path, stem: str) -> pl.DataFrame:
    return pl.read_csv(cms / "order" / f"icd10cm_order_{stem}.tsv.gz", separator="\t", quote_char=None,
                       schema_overrides={"code": pl.String, "description": pl.String})


def _merge(orders: list[list[str]]) -> list[str]:
    """One order over every release: the newest release's, each older code inserted after the code
    that precedes it in the newest release that has it."""
    merged = list(orders[-1])
    for order in reversed(orders[:-1]):
        placed = set(merged)
        inserts: dict[str | None, list[str]] = {}
        anchor: str | None = None
        for code in order:
            if code in placed:
                anchor = code
            else:
                inserts.setdefault(anchor, []).append(code)
        merged = [*inserts.get(None, []), *(c for code in merged for c in (code, *inserts.get(code, [])))]
    return merged


def build_icd10cm(cms: Path) -> pl.DataFrame:
    releases = []
    for name, order_stem, codes_stem, _ in ICD10_RELEASES:
        if order_stem is None:  # FY2020 April: FY2020 and the U07 category of FY2021
            u07 = _order(cms, "FY2021").filter(pl.col("code").str.starts_with("U07"))
            releases.append(pl.concat([releases[-1], u07]))
            continue
        releases.append(_order(cms, order_stem))
        with gzip.open(cms / "yearly" / f"icd10cm_codes_{codes_stem}.txt.gz", "rt") as codes:
            billable = set(codes.read().split())
        assert billable == set(releases[-1].filter(pl.col("billable") == 1)["code"]), name
    merged = _merge([r["code"].to_list() for r in releases])
    rank = {code: i for i, code in enumerate(merged)}
    for (name, *_), release in zip(ICD10_RELEASES, releases, strict=True):
        ranks = [rank[c] for c in release["code"] if not c.startswith(REORDERED)]
        assert ranks == sorted(ranks), f"{name}: its order is not the one order"
    table = pl.DataFrame({"short": merged, "rank": range(len(merged))}, schema={"short": pl.String, "rank": pl.UInt32})
    newest_description = pl.concat([r.select("code", "description") for r in reversed(releases)]).unique(
        "code", keep="first", maintain_order=True)
    table = table.join(newest_description.rename({"code": "short"}), on="short", how="left", maintain_order="left")
    for (name, *_), release in zip(ICD10_RELEASES, releases, strict=True):
        status = release.select(short="code", **{name: pl.col("billable").cast(pl.UInt8) + 1})
        table = (table.join(status, on="short", how="left", maintain_order="left")
                 .with_columns(pl.col(name).fill_null(0)))
    return table


def build_icd9dx(cms: Path) -> pl.DataFrame:
    with open(cms / "icd9cm_v32_dx_long.txt", encoding="latin-1") as lines:
        described = dict(line.rstrip("\n").partition(" ")[::2] for line in lines if line.strip())
    versions = {}
    for name, stem, _ in ICD9_RELEASES:
        with gzip.open(cms / "yearly" / f"icd9cm_dx_{stem}.txt.gz", "rt") as codes:
            versions[name] = set(codes.read().split())
    assert versions["v32"] == set(described), "v32: the described list is not the billable list"
    codes = sorted(set().union(*versions.values()))
    return pl.DataFrame({"short": codes, "description": [described.get(c, "").strip() or None for c in codes],
                         **{name: [int(c in v) * 2 for c in codes] for name, v in versions.items()}},
                        schema_overrides={name: pl.UInt8 for name in versions})


def main(cms: str) -> None:
    icd10 = build_icd10cm(Path(cms))
    icd10.write_parquet(HERE / "icd10cm.parquet", compression="zstd", compression_level=22, statistics=False)
    icd9 = build_icd9dx(Path(cms))
    icd9.write_parquet(HERE / "icd9dx.parquet", compression="zstd", compression_level=22, statistics=False)
    print(f"icd10cm: {icd10.height} codes; icd9dx: {icd9.height} codes")


if __name__ == "__main__":
    main(sys.argv[1])
