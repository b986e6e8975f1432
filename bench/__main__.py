"""`python -m bench` (from the repository root, with the project's venv): every benchmark, or `--only NAME`.

python -m bench                 # the full run (about 20 minutes): prints the table, writes bench/results/
python -m bench --quick         # a short smoke run of the same shape
python -m bench --only traffic  # just one benchmark (traffic, ledger, intel, web, deconfliction, agreements)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

BENCHMARKS = ("traffic", "ledger", "intel", "web", "deconfliction", "agreements")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short smoke run: small windows, 10 kills")
    parser.add_argument("--only", choices=BENCHMARKS, action="append", help="run only this benchmark")
    parser.add_argument(
        "--backends", default="sqlite,postgres", help="fusioncell databases to measure (default: sqlite,postgres)"
    )
    parser.add_argument("--no-synapse", action="store_true", help="skip the Matrix Synapse peer")
    parser.add_argument(
        "--no-ceiling", action="store_true", help="skip the bare-wire run (the stack's ceiling on this machine)"
    )
    parser.add_argument("--kills", type=int, help="SIGKILL rounds per database (default 100, 10 with --quick)")
    parser.add_argument(
        "--cold-restarts",
        action="store_true",
        help="restart with a new `fusioncell serve` process each kill round instead of forking a warm one",
    )
    parser.add_argument(
        "--pg-workers", type=int, default=2, help="server processes on PostgreSQL (default 2; SQLite always 1)"
    )
    parser.add_argument("--profile", action="store_true", help="py-spy the server during each throughput window")
    parser.add_argument("--output", type=Path, help="JSON results file (default bench/results/traffic.json)")
    args = parser.parse_args(argv)

    chosen = args.only or list(BENCHMARKS)
    status = 0
    if "traffic" in chosen:
        from bench.traffic.run import run_traffic

        status |= run_traffic(
            quick=args.quick,
            backends=[b.strip() for b in args.backends.split(",") if b.strip()],
            synapse=not args.no_synapse,
            kills=args.kills,
            warm_restarts=not args.cold_restarts,
            profile=args.profile,
            output=args.output,
            pg_workers=args.pg_workers,
            ceiling=not args.no_ceiling,
        )
    if "ledger" in chosen:
        from bench.ledger.run import run_ledger

        status |= run_ledger(quick=args.quick)
    if "intel" in chosen:
        from bench.intel.run import run_intel

        status |= run_intel(quick=args.quick)
    if "web" in chosen:
        from bench.web.run import run_web

        status |= run_web(quick=args.quick)
    if "deconfliction" in chosen:
        from bench.deconfliction.run import run_deconfliction

        status |= run_deconfliction(quick=args.quick)
    if "agreements" in chosen:
        from bench.agreements.run import run_agreements

        status |= run_agreements(quick=args.quick)
    return status


if __name__ == "__main__":
    sys.exit(main())
