"""Policies: the model, the bulletin parser, loading one or a library, GEM translation, and CMS's NCCI edits."""

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
from codeindex.policy.ncci import NcciTables, load_ncci
from codeindex.policy.registry import bundled_policies, load_policies, load_policy, read_policy_file

__all__ = ["ICD10_START", "CodeLookup", "NcciTables", "Policy", "PolicyEntry", "PolicyGroup", "PolicyHit",
           "PolicyVersion", "bundled_policies", "era_for_date", "load_ncci", "load_policies", "load_policy",
           "lookup_code", "parse_cpb", "read_policy_file"]
