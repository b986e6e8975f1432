"""Benchmarks against the peers named in the issues: `python -m bench` (or `make bench`) prints the table."""
