"""The synthetic policy library (``codeindex.synth.policy_library``) the many-policy benchmark screens: its
bulletins load as the generator says they read, and a seed gives the same library."""

from __future__ import annotations

import warnings
from pathlib import Path

from codeindex.policy import load_policy, parse_cpb
from codeindex.policy.compiled import compile_policies
from codeindex.synth import CLAIM_PROCEDURES, policy_library, synthetic_policy, write_policy_library


def shape(path: Path) -> tuple[tuple[str, str, str, int, int], ...]:
    policy = load_policy(path)
    return tuple((v.era, g.system, g.coverage, len(g.entries), sum(e.add_on for e in g.entries))
                 for v in policy.versions for g in v.groups)


def test_generated_bulletins_load_as_the_generator_says(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        paths = write_policy_library(tmp_path, 6, seed=0) + write_policy_library(tmp_path / "seed1", 3, seed=1)
        for path, generated in zip(paths, policy_library(6, seed=0) + policy_library(3, seed=1), strict=True):
            assert path.name == f"{generated.id}.txt"
            policy = load_policy(path)
            assert policy.id == generated.id
            assert [v.era for v in policy.versions] == ["icd9", "icd10"]
            assert shape(path) == generated.groups
            compiled = compile_policies((policy,))
            assert compiled.procedures.height + compiled.diagnoses.height == generated.entries
            assert compiled.procedures["primary"].is_not_null().sum() == sum(g[4] for g in generated.groups)


def test_a_seed_gives_the_same_library_whatever_its_size() -> None:
    assert [p.text for p in policy_library(3, seed=5)] == [p.text for p in policy_library(5, seed=5)[:3]]
    assert synthetic_policy(2, seed=5) == policy_library(3, seed=5)[2]
    assert synthetic_policy(2, seed=5).text != synthetic_policy(2, seed=6).text


def test_the_library_writes_what_bulletins_write() -> None:
    """Across the first 40 bulletins of seed 0: add-ons, procedure ranges, CPB 0198's codes and the claims'
    physical medicine, diagnosis ranges and lists, ICD-10-CM codes with "+" for the 7th character."""
    library = policy_library(40)
    text = "\n".join(p.text for p in library)
    assert "+ 97546" in text and "\n+ " in text.replace("\n+ 97546", "")
    assert "Other CPT codes related to the CPB:" in text and "(not all-inclusive):" in text
    policies = [parse_cpb(p.text) for p in library]
    entries = [(g.system, e) for p in policies for v in p.versions for g in v.groups for e in g.entries]
    assert any(s == "hcpcs" and not e.range.is_single for s, e in entries)
    assert any(s == "icd9dx" and not e.range.is_single for s, e in entries)
    assert any(s == "icd10cm" and e.end.endswith("+") for s, e in entries)
    assert all(e.description for _, e in entries)  # a list's codes take the description on the next line
    named = {e.start for s, e in entries if s == "hcpcs"} & CLAIM_PROCEDURES
    assert {"97545", "97546"} <= named and len(named) > 2
