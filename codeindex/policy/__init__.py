"""Policies: the model, the bulletin parser, loading, and GEM translation."""

from codeindex.policy.bulletin import parse_cpb
from codeindex.policy.lookup import CodeLookup, lookup_code
from codeindex.policy.model import (
    ICD10_START,
    Policy,
    PolicyEntry,
    PolicyGroup,
    PolicyHit,
    PolicyVersion,
    era_for_date,
)
from codeindex.policy.registry import bundled_policies, load_policy

__all__ = ["ICD10_START", "CodeLookup", "Policy", "PolicyEntry", "PolicyGroup", "PolicyHit", "PolicyVersion",
           "bundled_policies", "era_for_date", "load_policy", "lookup_code", "parse_cpb"]
