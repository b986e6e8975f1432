"""The record no one can rewrite: ledger entries now; the Merkle log, checkpoints and witnesses build on them."""
