"""`localbatch run script.py [args]`: run an unchanged boto3 script locally.

The script runs as `__main__` under `localbatch.patch(autojump=True)`, so its
polling `time.sleep` calls move engine time instead of waiting. It sees its
own `sys.argv` and its directory first on `sys.path`, as under `python
script.py`, and its exit code is the runner's. `--option KEY=VALUE` sets an
engine option (any `EngineConfig` field, e.g. `job_duration=300` or
`executor=subprocess`). Afterwards the runner prints how many jobs ended in
each status to stderr, and `--report PATH` writes the HTML timeline.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import runpy
import sys
import traceback
from collections import Counter
from typing import Any

from localbatch.config import EngineConfig
from localbatch.errors import LocalBatchError
from localbatch.patch import patch


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="localbatch", description="AWS Batch, local.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run a boto3 script against localbatch")
    run.add_argument("--region", default="us-east-1", help="region of clients that configure none")
    run.add_argument("--account-id", default="123456789012")
    run.add_argument("--no-autojump", action="store_true", help="let time.sleep really sleep")
    run.add_argument("--report", metavar="PATH", help="write an HTML timeline of the run to PATH")
    run.add_argument(
        "--option",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="an engine option, e.g. job_duration=300 or executor=subprocess (repeatable)",
    )
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


def engine_options(pairs: list[str]) -> dict[str, Any]:
    """`KEY=VALUE` strings as EngineConfig keyword arguments, each value
    converted to its field's type."""
    types = {f.name: str(f.type) for f in dataclasses.fields(EngineConfig)}
    options: dict[str, Any] = {}
    for pair in pairs:
        key, equals, text = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not equals:
            raise LocalBatchError(f"--option {pair!r}: expected KEY=VALUE")
        if key not in types:
            raise LocalBatchError(f"--option {pair!r}: unknown option; options are {', '.join(sorted(types))}")
        options[key] = _convert(key, types[key], text.strip())
    return options


_BOOLS = {"true": True, "1": True, "yes": True, "on": True, "false": False, "0": False, "no": False, "off": False}


def _convert(key: str, kind: str, text: str) -> Any:
    try:
        if kind == "bool":
            return _BOOLS[text.lower()]
        if kind == "int":
            return int(text)
        if kind == "float":
            return float(text)
    except (KeyError, ValueError):
        raise LocalBatchError(f"--option {key}={text}: not a valid {kind}") from None
    return text


def run(args: argparse.Namespace) -> int:
    options = engine_options(args.option)
    saved_argv, saved_path = sys.argv, list(sys.path)
    sys.argv = [args.script, *args.args]
    sys.path.insert(0, os.path.dirname(os.path.abspath(args.script)))
    code = 0
    with patch(region=args.region, account_id=args.account_id, autojump=not args.no_autojump, **options) as lb:
        started_ms = lb.now_ms
        try:
            runpy.run_path(args.script, run_name="__main__")
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
            if exit_.code is not None and not isinstance(exit_.code, int):
                print(exit_.code, file=sys.stderr)  # sys.exit("message"): printed, as Python does
        except Exception:  # noqa: BLE001 (the script's own error: printed as Python would, run still summarised)
            traceback.print_exc()
            code = 1
        finally:
            sys.argv = saved_argv
            sys.path[:] = saved_path
        sys.stdout.flush()  # the script's output first, then the summary
        counts = job_status_counts(lb)
        summary = ", ".join(f"{status} {n}" for status, n in sorted(counts.items())) or "no jobs"
        elapsed = (lb.now_ms - started_ms) / 1000
        print(f"localbatch: jobs {summary}; {elapsed:g} s of engine time", file=sys.stderr)
        if args.report:
            lb.report(args.report)
            print(f"localbatch: report written to {args.report}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "run":
        try:
            return run(args)
        except LocalBatchError as error:  # a wrong --option: said as argparse says usage errors
            print(f"localbatch: error: {error}", file=sys.stderr)
            return 2
    return 2


if __name__ == "__main__":
    sys.exit(main())
