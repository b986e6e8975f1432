"""Agreements and binding timelines: versioned text co-signed offline by every signatory the agreement names, milestones
whose status follows from the verifier's attestations and the clock, and a compliance report computed from the
ledger."""
