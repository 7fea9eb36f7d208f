"""`make verify`: recompute every aggregate and every report from PostgreSQL and compare them with ClickHouse.

    python -m infra.verify [--wait SECONDS] [--show N] [--reports-only] [--report ID ...] [--no-reports]

Prints each difference (up to N per family or report) and exits 1 if any remain after waiting up to SECONDS
for the stream to catch up (changes still in flight show as differences until they are applied); exits 0
when everything matches.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from infra.settings import StackSettings, get_settings
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
    failed = 0
    if not args.reports_only and not args.report:
        diffs, checked = _settle(lambda: differences(settings), args.wait)
        failed |= _print(diffs, checked, args.show, lambda d: d.what, "aggregate (and row count)")
    if not args.no_reports:
        diffs, checked = _settle(lambda: report_differences(settings, args.report), args.wait)
        failed |= _print(diffs, checked, args.show, lambda d: d.report, "report")
    return failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.verify", description=__doc__.split("\n\n")[0])
    parser.add_argument("--wait", type=float, default=60.0, help="seconds to wait for the stream to catch up")
    parser.add_argument("--show", type=int, default=20, help="differences printed per family or report")
    parser.add_argument("--reports-only", action="store_true", help="only the report catalog")
    parser.add_argument("--report", action="append", help="only this report (repeatable)")
    parser.add_argument("--no-reports", action="store_true", help="only the streamed aggregates")
    return run(get_settings(), parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
