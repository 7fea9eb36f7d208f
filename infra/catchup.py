"""Follow the streaming worker while it catches up, and rebuild ClickHouse from the topics with a progress bar.

    python -m infra.catchup follow [--timeout S]     # make catch-up
    python -m infra.catchup rebuild                  # make rebuild

Contract:
- `follow` shows a progress bar (rich) of the records processed out of the largest backlog seen, with the
  rate and ETA the worker reports (`infra.services.worker_health`), until the worker is `up` (exit 0); it
  exits 1 when the worker is `failed`, or `stalled`/`down` for longer than `GRACE_SECONDS` (a restart by the
  supervisor passes through `down` briefly), or when `timeout` passes.
- `rebuild` is the operator's full recomputation: the supervisor and the worker stop, the worker's own
  ClickHouse tables (`sinks.ddl.table_defs`, checkpoint included) are dropped, the worker starts again (it
  recreates them and replays every topic from offset 0, as its checkpoint is gone), the supervisor starts,
  `follow` runs, and the BI and report views are provisioned again. PostgreSQL, Kafka, the topics, the bank
  tables and the migration history are untouched.
`CatchUp` (what the bar shows, from one health reading after another) is pure, so it is tested without a stack.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from infra.services import WorkerHealth, start_worker, stop_workers, worker_health
from infra.settings import StackSettings, get_settings

GRACE_SECONDS = 90.0


@dataclass
class CatchUp:
    """The bar's numbers: `total` is the largest backlog seen, `done` how much of it is processed."""

    total: int = 0
    backlog: int = 0
    unhealthy_since: float | None = None

    def observe(self, health: WorkerHealth, now: float) -> str | None:
        """Take one reading; None to go on, else the outcome ("up", or why it gives up)."""
        status = health.status or {}
        self.backlog = int(status.get("backlog", 0) or 0)
        self.total = max(self.total, self.backlog)
        if health.state == "up":
            return "up"
        if health.state == "failed":
            return f"the worker failed: {health.detail}"
        if health.state in ("stalled", "down"):
            if self.unhealthy_since is None:
                self.unhealthy_since = now
            elif now - self.unhealthy_since > GRACE_SECONDS:
                return f"the worker is {health.state}: {health.detail}"
        else:
            self.unhealthy_since = None
        return None

    @property
    def done(self) -> int:
        return self.total - self.backlog


def describe(health: WorkerHealth) -> str:
    status = health.status or {}
    eta = status.get("eta_seconds")
    return (f"{health.state.replace('_', ' ')} · {status.get('rate', 0):,.0f} records/s · "
            f"ETA {'?' if eta is None else f'{eta:,.0f} s'}")


def follow(settings: StackSettings, timeout: float = 7200.0, interval: float = 1.0,
           read: Callable[[StackSettings], WorkerHealth] = worker_health) -> bool:
    """Show the catch-up until the worker is up (True) or gives cause to stop (False, reason printed)."""
    catch_up, deadline = CatchUp(), time.monotonic() + timeout
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, transient=False) as bar:
        task = bar.add_task("waiting for the worker", total=None)
        while time.monotonic() < deadline:
            health = read(settings)
            outcome = catch_up.observe(health, time.monotonic())
            bar.update(task, total=max(catch_up.total, 1), completed=catch_up.done, description=describe(health))
            if outcome == "up":
                bar.update(task, completed=max(catch_up.total, 1))
                return True
            if outcome is not None:
                bar.console.print(f"[red]{outcome}[/red]")
                return False
            time.sleep(interval)
    print(f"the worker did not catch up within {timeout:.0f} s", file=sys.stderr)
    return False


def rebuild(settings: StackSettings) -> bool:
    """Recompute ClickHouse from the topics (see the module contract)."""
    from infra.clickhouse.access import current_plan, provision_views
    from infra.clickhouse.runner import get_client
    from infra.supervisor import start_supervisor, stop_supervisor
    from sinks.ddl import table_defs

    stop_supervisor(settings)
    stop_workers(settings)  # of whichever shard count ran: a rebuild may change it
    client = get_client(settings)
    try:
        for name in table_defs():
            client.command(f"DROP TABLE IF EXISTS `{settings.clickhouse.database}`.`{name}` SYNC")
    finally:
        client.close()
    start_worker(settings)
    start_supervisor(settings)
    caught_up = follow(settings)
    provision_views(settings, current_plan(settings))
    return caught_up


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.catchup", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_follow = sub.add_parser("follow", help="a progress bar until the worker has caught up")
    p_follow.add_argument("--timeout", type=float, default=7200.0)
    sub.add_parser("rebuild", help="drop the worker's ClickHouse tables and recompute them from the topics")
    args = parser.parse_args(argv)
    settings = get_settings()
    ok = follow(settings, args.timeout) if args.command == "follow" else rebuild(settings)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
