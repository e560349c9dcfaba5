"""`localbatch run script.py [args]`: run an unchanged boto3 script locally.

The script runs as `__main__` under `localbatch.patch(autojump=True)`, so its
polling `time.sleep` calls move engine time instead of waiting. Afterwards
the runner prints how many jobs ended in each status.
"""

from __future__ import annotations

import argparse
import runpy
import sys
from collections import Counter
from typing import Any

from localbatch.patch import patch


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="localbatch", description="AWS Batch, local.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run a boto3 script against localbatch")
    run.add_argument("--region", default="us-east-1", help="region of clients that configure none")
    run.add_argument("--account-id", default="123456789012")
    run.add_argument("--no-autojump", action="store_true", help="let time.sleep really sleep")
    run.add_argument("--report", metavar="PATH", help="write an HTML timeline of the run to PATH")
    run.add_argument("script", help="the Python script to run")
    run.add_argument("args", nargs=argparse.REMAINDER, help="arguments passed to the script")
    return parser


def job_status_counts(lb: Any) -> Counter[str]:
    """Jobs as submitted (not array children or nodes), of every region, by status."""
    counts: Counter[str] = Counter()
    for backend in lb.backends():
        for store in (backend.jobs, backend.service_jobs):
            for job in store.by_id.values():
                if getattr(job, "parent", None) is None:
                    counts[job.status] += 1
    return counts


def run(args: argparse.Namespace) -> int:
    saved_argv = sys.argv
    sys.argv = [args.script, *args.args]
    code = 0
    with patch(region=args.region, account_id=args.account_id, autojump=not args.no_autojump) as lb:
        started_ms = lb.now_ms
        try:
            runpy.run_path(args.script, run_name="__main__")
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        finally:
            sys.argv = saved_argv
        counts = job_status_counts(lb)
        summary = ", ".join(f"{status} {n}" for status, n in sorted(counts.items())) or "no jobs"
        elapsed = (lb.now_ms - started_ms) / 1000
        print(f"localbatch: jobs {summary}; {elapsed:g} s of engine time", file=sys.stderr)
        if args.report:
            from localbatch.report import write_report

            write_report(lb, args.report)
            print(f"localbatch: report written to {args.report}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "run":
        return run(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
