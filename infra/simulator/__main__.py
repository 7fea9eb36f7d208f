"""python -m infra.simulator backfill|live … (reads the database location from the LG_* settings)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date, timedelta

from infra.clock import SystemClock, business_day
from infra.settings import get_settings
from infra.simulator.history import generate
from infra.simulator.live import LiveSimulator
from infra.simulator.loader import BackfillRefused, load_history


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.simulator")
    sub = parser.add_subparsers(dest="mode", required=True)
    back = sub.add_parser("backfill", help="write N days of consistent history into an empty database")
    back.add_argument("--days", type=int, default=90)
    back.add_argument("--seed", type=int, default=42)
    back.add_argument("--customers", type=int, default=50_000)
    back.add_argument("--orders-per-day", type=int, default=1_000)
    back.add_argument("--end", type=date.fromisoformat, default=None, help="last day (default: yesterday, Taipei)")
    live = sub.add_parser("live", help="the business going on now")
    live.add_argument("--rate", type=float, default=5.0, help="row changes per second (the spec's pace is ~1/s)")
    live.add_argument("--duration", type=float, default=None, help="seconds (default: until Ctrl-C)")
    live.add_argument("--seed", type=int, default=43)
    args = parser.parse_args(argv)
    dsn = get_settings().postgres.dsn()
    if args.mode == "backfill":
        end = args.end or business_day(SystemClock().now()) - timedelta(days=1)
        started = time.monotonic()
        rows, _ = generate(args.seed, args.days, end, args.customers, args.orders_per_day)
        try:
            counts = load_history(dsn, rows)
        except BackfillRefused as error:
            print(f"backfill refused: {error}", file=sys.stderr)
            return 2
        print(
            json.dumps(
                {
                    "mode": "backfill",
                    "days": args.days,
                    "end": str(end),
                    "rows": sum(counts.values()),
                    "seconds": round(time.monotonic() - started, 1),
                    "tables": counts,
                },
                ensure_ascii=False,
            )
        )
        return 0
    result = LiveSimulator(dsn, args.seed, args.rate, progress=lambda line: print(line, flush=True)).run(args.duration)
    print(
        json.dumps(
            {
                "mode": "live",
                "seconds": round(result.seconds, 1),
                "row_changes": result.total_changes,
                "rate": round(result.rate, 1),
                "transactions": result.transactions,
                "changes": dict(result.changes),
                "actions": dict(result.actions),
            },
            ensure_ascii=False,
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
