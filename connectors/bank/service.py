"""The bank import as a running service: the daily 06:00 pull, statements to Kafka, rejections recorded.

    python -m connectors.bank            # settings from LG_* (the stack starts it; `make run` / `make up`)

Contract:
- On start it creates the bank topics if missing, opens one Kafka producer and one PostgreSQL seen-store
  (shared by every importer on every machine: an import holds the store's lock, so two importers never
  import one file twice) for the process's lifetime, and pulls once at once: a morning missed while the
  service was down is caught up when it is back (a pull is idempotent: imported files leave the inbox).
  Then it pulls every day at `bank.run_at` Asia/Taipei, and whenever it receives SIGUSR1.
- Accepted files go to `<prefix>.bank.statement-files`, rejections (after the local exceptions log) to
  `<prefix>.bank.import-exceptions`; `agents.bank_landing` lands both in ClickHouse.
- Every second it writes `<state_dir>/bank/importer-status.json` (pid, last tick, runs, last pull) for the
  stack's health check. SIGTERM or SIGINT ends it after the pull in progress, if any.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from datetime import UTC, datetime
from typing import Any

from connectors.bank.dedup import PostgresSeenStatementStore
from connectors.bank.publish import KafkaStatementPublisher
from connectors.bank.pull import PullJob, PullReport, build_importer
from connectors.bank.schedule import DailyJobRunner, next_run
from infra.clock import Clock, SystemClock
from infra.settings import StackSettings, get_settings
from infra.status import write_status

log = logging.getLogger("luckygas.bank")

STATUS_EVERY_SECONDS = 1.0


def report_summary(report: PullReport | None) -> dict[str, Any] | None:
    """What the last pull did, as plain JSON types."""
    if report is None:
        return None
    return {
        "started_at": report.started_at.isoformat(),
        "imported": [{"file": f.file_name, "statements": len(f.statements), "movements": f.transaction_count,
                      "warnings": len(f.warnings)} for f in report.imported],
        "rejected": [{"file": r.file_name, "reason": r.reason.value, "problems": [str(p) for p in r.problems[:5]]}
                     for r in report.rejected],
        "left_in_inbox": report.left_in_inbox,
    }


class BankImportService:
    """Holds the producer, the seen-store and the daily runner for the process's lifetime."""

    def __init__(self, settings: StackSettings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self.publisher = KafkaStatementPublisher(settings)
        self.store = PostgresSeenStatementStore(settings.postgres.dsn())
        bank = settings.bank
        importer = build_importer(bank, clock, self.store, deliver=self.publisher.publish_file)
        self.job = PullJob(bank, importer, on_rejected=self.publisher.publish_rejection)
        self.runner = DailyJobRunner(self.job, clock, at=bank.run_at)
        self.started_at = datetime.now(UTC)

    def write_status(self) -> None:
        write_status(self.settings.bank_importer_status_file, {
            "pid": os.getpid(), "started_at": self.started_at.isoformat(),
            "completed_runs": self.runner.completed_runs, "failed_runs": self.runner.failed_runs,
            "last_trigger": self.runner.last_trigger,
            "next_scheduled_run": next_run(self.clock.now(), self.settings.bank.run_at).isoformat(),
            "last_pull": report_summary(self.job.last_report),
        })

    async def _status_loop(self) -> None:
        while True:
            self.write_status()
            await asyncio.sleep(STATUS_EVERY_SECONDS)

    async def run(self) -> None:
        """Until SIGTERM/SIGINT: the catch-up pull, then the daily schedule (see the module contract)."""
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self.runner.stop)
        loop.add_signal_handler(signal.SIGINT, self.runner.stop)
        loop.add_signal_handler(signal.SIGUSR1, self.runner.request_run)
        await self.publisher.start()
        status = asyncio.create_task(self._status_loop())
        try:
            self.runner.request_run()  # catch up a morning missed while we were down
            await self.runner.run_forever()
        finally:
            status.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await status
            await self.publisher.stop()
            await self.store.close()


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    service = BankImportService(get_settings(), SystemClock())
    asyncio.run(service.run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
