"""`make verify`: recompute every aggregate and every report from PostgreSQL and compare them with ClickHouse.

    python -m infra.verify [--wait SECONDS] [--show N] [--reports-only] [--report ID ...] [--no-reports]
                           [--no-barrier]

Takes one PostgreSQL snapshot and has the streaming worker hold at its WAL position (agents/barrier.py)
while ClickHouse is compared with it, so it holds while the business goes on; waits up to SECONDS for the
worker to get there (exit 2 if it does not). Prints each difference (up to N per family or report) and exits
1 if there is any, 0 when everything matches. `--no-barrier` compares without the worker, retrying until
the stream settles (right only while nothing changes).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import psycopg

from infra.settings import StackSettings, get_settings
from infra.verify.barrier import BarrierNotReached, held_snapshot
from infra.verify.compare import differences
from infra.verify.reports import report_differences


def _settle(check: Callable[[], tuple[Sequence[Any], dict[str, int]]], wait: float
            ) -> tuple[Sequence[Any], dict[str, int]]:
    deadline = time.monotonic() + wait
    while True:
        diffs, checked = check()
        if not diffs or time.monotonic() >= deadline:
            return diffs, checked
        time.sleep(2)


def _print(diffs: Sequence[Any], checked: dict[str, int], show: int, key: Callable[[Any], str], what: str) -> int:
    for name, count in checked.items():
        print(f"{name:<28} {count:>9} cells checked")
    if not diffs:
        print(f"verify: every {what} equals the truth recomputed from PostgreSQL")
        return 0
    shown: Counter[str] = Counter()
    for diff in diffs:
        shown[key(diff)] += 1
        if shown[key(diff)] <= show:
            print(diff)
    print(f"verify: {len(diffs)} differences in {what}s ({dict(shown)})", file=sys.stderr)
    return 1


def run(settings: StackSettings, args: argparse.Namespace) -> int:
    if args.no_barrier:
        return _compare(settings, args, None)
    try:
        with held_snapshot(settings, timeout=args.wait) as snapshot:
            print("verify: the streaming worker holds at this snapshot's WAL position while it is compared")
            return _compare(settings, args, snapshot)
    except BarrierNotReached as error:
        print(f"verify: {error}", file=sys.stderr)
        return 2


def _compare(settings: StackSettings, args: argparse.Namespace, snapshot: psycopg.Connection[Any] | None) -> int:
    """Compare once in the barrier's snapshot; without one, until the stream settles (up to --wait)."""
    wait = 0.0 if snapshot is not None else args.wait
    failed = 0
    if not args.reports_only and not args.report:
        diffs, checked = _settle(lambda: differences(settings, snapshot), wait)
        failed |= _print(diffs, checked, args.show, lambda d: d.what, "aggregate (and row count)")
    if not args.no_reports:
        diffs, checked = _settle(lambda: report_differences(settings, args.report, snapshot), wait)
        failed |= _print(diffs, checked, args.show, lambda d: d.report, "report")
    return failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.verify", description=__doc__.split("\n\n")[0])
    parser.add_argument("--wait", type=float, default=60.0, help="seconds to wait for the stream to catch up")
    parser.add_argument("--show", type=int, default=20, help="differences printed per family or report")
    parser.add_argument("--reports-only", action="store_true", help="only the report catalog")
    parser.add_argument("--report", action="append", help="only this report (repeatable)")
    parser.add_argument("--no-reports", action="store_true", help="only the streamed aggregates")
    parser.add_argument("--no-barrier", action="store_true",
                        help="compare without holding the worker (only right while the business stands still)")
    return run(get_settings(), parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
