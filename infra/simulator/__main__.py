"""python -m infra.simulator backfill|live|check|statements … (reads the database location from the LG_* settings).

Every mode prints one JSON line as its last line of output (what it did, with counts: per table, per kind of line);
progress lines come before it. Exit status 2: the backfill was refused or live mode cannot start.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from datetime import date, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import psycopg

from infra.clock import SystemClock, business_day
from infra.settings import get_settings
from infra.simulator.backfill import BackfillPlan, backfill
from infra.simulator.checks import INVARIANTS, broken_invariants
from infra.simulator.dbworld import EmptyDatabase
from infra.simulator.live import ClockBehindBooks, LiveSimulator
from infra.simulator.loader import BackfillRefused
from infra.simulator.statements import write_statement_files


def _positive(kind: type[int] | type[float]) -> Any:
    def parse(text: str) -> int | float:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0: {text}")
        return value

    return parse


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m infra.simulator", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    back = sub.add_parser("backfill", help="write N days of consistent history (into an empty database)")
    back.add_argument("--days", type=_positive(int), default=90)
    back.add_argument("--end", type=date.fromisoformat, default=None, help="last day (default: yesterday, Taipei)")
    back.add_argument("--seed", type=int, default=42)
    back.add_argument("--customers", type=_positive(int), default=50_000)
    back.add_argument("--products", type=_positive(int), default=500)
    back.add_argument("--orders-per-day", type=int, default=1_000, help="before season and weekday factors")
    back.add_argument(
        "--append",
        action="store_true",
        help="continue the history in a database that has one (days after its last order)",
    )
    live = sub.add_parser("live", help="the business going on now")
    live.add_argument(
        "--rate", type=_positive(float), default=5.0, help="row changes per second (the spec's pace is ~2/s)"
    )
    live.add_argument(
        "--duration", type=_positive(float), default=None, help="seconds (default: until Ctrl-C or SIGTERM)"
    )
    live.add_argument("--seed", type=int, default=43)
    sub.add_parser("check", help="verify the invariants the simulator keeps (exit status 1 when one is broken)")
    stm = sub.add_parser("statements", help="the bank's MT940 file per day for the payments in the database")
    stm.add_argument("--days", type=_positive(int), required=True)
    stm.add_argument("--out", type=Path, required=True, help="directory of the LGB_<YYYYMMDD>.sta files")
    stm.add_argument("--seed", type=int, default=44)
    stm.add_argument("--end", type=date.fromisoformat, default=None, help="last day (default: yesterday, Taipei)")
    stm.add_argument("--also-in", type=Path, action="append", default=[],
                     help="a directory the files may have been moved to (e.g. the importer's archive): skip those days")
    return parser


def _interrupt_on_sigterm() -> None:
    """SIGTERM ends live mode like Ctrl-C: the open transaction rolls back, the summary is printed."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def _backfill(args: argparse.Namespace, dsn: str) -> dict[str, Any]:
    end = args.end or business_day(SystemClock().now()) - timedelta(days=1)
    plan = BackfillPlan(
        days=args.days,
        end=end,
        seed=args.seed,
        customers=args.customers,
        products=args.products,
        orders_per_day=args.orders_per_day,
    )
    report = backfill(dsn, plan, append=args.append)
    return {
        "mode": "backfill",
        "appended": report.appended,
        "days": args.days,
        "start": str(report.start),
        "end": str(report.end),
        "rows": report.rows,
        "seconds": round(report.seconds, 1),
        "rows_per_second": round(report.rows / report.seconds) if report.seconds else None,
        "tables": dict(report.inserted),
        "updated": dict(report.updated),
    }


def _live(args: argparse.Namespace, dsn: str) -> dict[str, Any]:
    _interrupt_on_sigterm()
    progress = lambda line: print(line, flush=True)  # noqa: E731
    result = LiveSimulator(dsn, args.seed, args.rate, progress=progress).run(args.duration)
    return {
        "mode": "live",
        "target_rate": args.rate,
        "seconds": round(result.seconds, 1),
        "row_changes": result.total_changes,
        "rate": round(result.rate, 1),
        "kept_up": result.kept_up,
        "transactions": result.transactions,
        "days_closed": result.days_closed,
        "changes": dict(result.changes),
        "operations": result.by_operation(),
        "actions": dict(result.actions),
    }


def _check(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        broken = broken_invariants(conn)
    print(json.dumps({"mode": "check", "invariants": len(INVARIANTS), "broken": broken}, ensure_ascii=False))
    return 1 if broken else 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    dsn = get_settings().postgres.dsn()
    if args.mode == "check":
        return _check(dsn)
    if args.mode == "statements":
        report = write_statement_files(dsn, args.out, args.days, args.seed, args.end, archived=args.also_in)
        print(json.dumps(report.summary(), ensure_ascii=False), flush=True)
        return 0
    try:
        summary = _backfill(args, dsn) if args.mode == "backfill" else _live(args, dsn)
    except (BackfillRefused, EmptyDatabase, ClockBehindBooks) as error:
        print(f"{args.mode} refused: {error}", file=sys.stderr)
        return 2
    print(json.dumps(summary, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
