"""Bulletin texts the library tests screen beside CPB 0198."""

# Names 97545 as 0198 does, but covered if criteria are met, with 724.2 in its covered list: a line both
# policies name, where 0198's not_covered outranks this policy's review.
LIBRARY_POLICY = """Clinical Policy Bulletin: Another policy
Number: 0997

CPT Codes / HCPCS Codes / ICD-9 Codes
CPT codes covered if selection criteria are met:
97545 Work hardening/conditioning; initial 2 hours
ICD-9 codes covered if selection criteria are met:
724.2 Lumbago
"""
