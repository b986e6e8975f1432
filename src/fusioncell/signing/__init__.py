"""Signatories' keys: Ed25519 key pairs made on the signatory's own machine, whose public halves the cell records and
the mediator approves before they may sign; revoked from a given time."""
