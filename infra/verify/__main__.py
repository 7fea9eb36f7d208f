"""`make verify`: recompute every aggregate from PostgreSQL and compare it with ClickHouse.

    python -m infra.verify [--wait SECONDS] [--show N]

Prints each difference (up to N per family) and exits 1 if any remain after waiting up to SECONDS for
the stream to catch up (changes still in flight show as differences until they are applied); exits 0
when everything matches.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter

from infra.settings import get_settings
from infra.verify.compare import differences


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.verify", description=__doc__.split("\n\n")[0])
    parser.add_argument("--wait", type=float, default=60.0, help="seconds to wait for the stream to catch up")
    parser.add_argument("--show", type=int, default=20, help="differences printed per family")
    args = parser.parse_args(argv)
    settings = get_settings()
    deadline = time.monotonic() + args.wait
    while True:
        diffs, checked = differences(settings)
        if not diffs or time.monotonic() >= deadline:
            break
        time.sleep(2)
    for family, count in checked.items():
        print(f"{family:<12} {count:>8} cells checked")
    if not diffs:
        print("verify: every aggregate equals the truth recomputed from PostgreSQL; row counts match")
        return 0
    shown: Counter[str] = Counter()
    for diff in diffs:
        shown[diff.what] += 1
        if shown[diff.what] <= args.show:
            print(diff)
    print(f"verify: {len(diffs)} differences ({dict(shown)})", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
