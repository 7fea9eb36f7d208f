"""The bank landing agent: accepted statement files and rejections from Kafka into ClickHouse, then the
bank reconciliation against the book.

    python -m agents.bank_landing     # settings from LG_* (the stack starts it; `make run` / `make up`)

Contract:
- A Faust agent (its own app and consumer group, `luckygas-bank-landing`) reads `<prefix>.bank.statement-files`
  and `<prefix>.bank.import-exceptions`. Each record is decoded (`imported_file_from_json` / the exception
  record JSON) and turned into rows by `agents.bank_rows`; rows are written through the one sink interface
  before Faust commits the record's offset, and every table is keyed so a replayed record changes nothing.
  A record that does not decode goes to `<prefix>.dead-letter` with topic, partition, offset and reason
  headers, is counted and logged, and the stream goes on.
- After each landed file, and every `bank.reconcile_every_s` (payments booked after the statement arrived),
  `reconcile_now` reconciles the statements of the last `bank.reconcile_days` days (up to the newest closing
  date landed) against `w500.payment_record` in PostgreSQL (`load_book_payments`), and writes a run only when
  its result differs from the newest run's.
- Every second it writes `<state_dir>/bank/landing-status.json` for the stack's health check.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from datetime import UTC, date, datetime, timedelta
from typing import Any

import faust
import orjson
import psycopg
from faust.types import StreamT

from agents.bank_rows import (
    ReconciliationRun,
    exception_rows,
    file_rows,
    movement_transaction,
    reconciliation_rows,
)
from connectors.bank.book_payments import load_book_payments
from connectors.bank.publish import ensure_bank_topics
from connectors.bank.reconcile import reconcile
from connectors.bank.statement import imported_file_from_json
from infra.clickhouse.runner import get_client
from infra.settings import StackSettings, get_settings
from infra.status import write_status
from sinks.bank_tables import bank_create_statements, bank_table_defs
from sinks.base import Row
from sinks.clickhouse import ClickHouseSink
from streams.app import create_app
from streams.topics import bank_import_exceptions_topic_name, bank_statement_files_topic_name, dead_letter_topic_name

log = logging.getLogger("luckygas.bank_landing")

STATUS_EVERY_SECONDS = 1.0
_MOVEMENTS_SQL = (
    "SELECT * FROM {db}.v_bank_movements WHERE (account, currency, statement_number, opening_date, opening_amount) "
    "IN (SELECT account, currency, statement_number, opening_date, opening_amount FROM {db}.v_bank_statements "
    "WHERE closing_date BETWEEN {{start:Date32}} AND {{end:Date32}})"
)


class BankLanding:
    """The Faust app, the sink and the reconciliation, held for the process's lifetime."""

    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings
        self.sink = ClickHouseSink(get_client(settings), settings.clickhouse.database, bank_table_defs())
        prefix = settings.kafka.topic_prefix
        self.app = create_app(settings, app_id="luckygas-bank-landing")
        self.files_topic = bank_statement_files_topic_name(prefix)
        self.dead_letter_topic = self.app.topic(dead_letter_topic_name(prefix), key_type=bytes, value_type=bytes,
                                                key_serializer="raw", value_serializer="raw")
        source = self.app.topic(self.files_topic, bank_import_exceptions_topic_name(prefix), key_type=bytes,
                                value_type=bytes, key_serializer="raw", value_serializer="raw")
        self.app.agent(source, name="land-bank-statements", concurrency=1)(self._consume)
        self.app.timer(settings.bank.reconcile_every_s, name="reconcile-bank")(self._reconcile_tick)
        self.app.timer(STATUS_EVERY_SECONDS, name="bank-landing-status")(self._write_status)
        self.lock = asyncio.Lock()
        self.started_at = datetime.now(UTC)
        self.counts = {"files": 0, "exceptions": 0, "dead_lettered": 0, "reconciliation_runs": 0}
        self.last_digest: str | None = None
        self.last_run: dict[str, Any] | None = None

    def prepare(self) -> None:
        """Create the tables and views; remember the newest run's digest (so a restart writes no copy)."""
        database = self.settings.clickhouse.database
        for statement in bank_create_statements(database):
            self.sink.client.command(statement)
        rows = self.sink.query_rows(f"SELECT run_id FROM `{database}`.bank_reconciliation_runs "
                                    "ORDER BY ran_at DESC LIMIT 1")
        self.last_digest = str(rows[0]["run_id"]).rsplit("-", 1)[1] if rows else None

    async def _consume(self, stream: StreamT[Any]) -> Any:
        async for event in stream.events():
            message = event.message
            async with self.lock:
                try:
                    rows = self._rows(message.topic, message.value)
                except Exception as exc:  # not a file or record we can land: dead-letter it, go on
                    await self._dead_letter(message.topic, message.partition, message.offset, message.value, exc)
                    continue
                await asyncio.to_thread(self._write, rows)
                if message.topic == self.files_topic:
                    self.counts["files"] += 1
                    await self._reconcile()
                else:
                    self.counts["exceptions"] += 1
            yield None

    def _rows(self, topic: str, value: bytes | None) -> dict[str, list[Row]]:
        if value is None:
            raise ValueError("empty record")
        now = datetime.now(UTC)
        if topic == self.files_topic:
            return file_rows(imported_file_from_json(value), now)
        return exception_rows(orjson.loads(value), now)

    def _write(self, rows: dict[str, list[Row]]) -> None:
        for table, table_rows in rows.items():
            if table_rows:
                self.sink.add(table, table_rows)
        self.sink.flush()

    async def _dead_letter(self, topic: str, partition: int, offset: int, value: bytes | None, exc: Exception) -> None:
        reason = f"{type(exc).__name__}: {str(exc)[:500]}"
        headers = [("source-topic", topic.encode()), ("source-partition", str(partition).encode()),
                   ("source-offset", str(offset).encode()), ("reason", reason.encode())]
        pending = await self.dead_letter_topic.send(key=f"{topic}:{partition}:{offset}".encode(), value=value or b"",
                                                    headers=headers)
        await pending  # on the dead-letter topic before the record's offset is committed
        self.counts["dead_lettered"] += 1
        log.warning("dead-lettered %s[%d]@%d: %s", topic, partition, offset, reason)

    async def _reconcile_tick(self) -> None:
        async with self.lock:
            await self._reconcile()

    async def _reconcile(self) -> None:
        try:
            summary = await asyncio.to_thread(self.reconcile_now, datetime.now(UTC))
        except Exception:  # PostgreSQL or ClickHouse away: the next file or tick tries again
            log.exception("bank reconciliation failed")
            return
        if summary is not None:
            self.last_run = summary

    def reconcile_now(self, now: datetime) -> dict[str, Any] | None:
        """Reconcile (see the module contract); the run's row when one was written, else None."""
        db = f"`{self.settings.clickhouse.database}`"
        newest = self.sink.query_rows(f"SELECT max(closing_date) AS d, count() AS n FROM {db}.v_bank_statements")
        if not newest or not newest[0]["n"]:
            return None
        end: date = newest[0]["d"]
        bank = self.settings.bank
        start = end - timedelta(days=bank.reconcile_days - 1)
        movements = self.sink.query_rows(_MOVEMENTS_SQL.format(db=db), {"start": start, "end": end})
        transactions = [movement_transaction(row) for row in movements]
        window = bank.reconcile_window_days
        with psycopg.connect(self.settings.postgres.dsn()) as conn:
            book = load_book_payments(conn, start - timedelta(days=window), end + timedelta(days=window))
        result = reconcile(transactions, book, window_days=window)
        openings = {(r["account"], int(r["statement_number"]), int(r["line"])): r["opening_date"] for r in movements}
        run = ReconciliationRun(now, start, end, window, len(book), openings)
        digest, rows = reconciliation_rows(result, run)
        if digest[:12] == self.last_digest:
            return None
        self._write(rows)
        self.last_digest = digest[:12]
        self.counts["reconciliation_runs"] += 1
        run_row = rows["bank_reconciliation_runs"][0]
        log.info("bank reconciliation %s: %s", run_row["run_id"],
                 {k: run_row[k] for k in ("matched", "amount_mismatch", "unmatched_bank", "unmatched_book")})
        return {k: str(v) if isinstance(v, date | datetime) else v for k, v in run_row.items()}

    async def _write_status(self) -> None:
        write_status(self.settings.bank_landing_status_file, {
            "pid": os.getpid(), "started_at": self.started_at, **self.counts, "last_reconciliation": self.last_run})


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = get_settings()
    asyncio.run(ensure_bank_topics(settings))
    landing = BankLanding(settings)
    landing.prepare()
    faust.Worker(landing.app, loglevel="INFO", quiet=True).execute_from_commandline()
    return 0


if __name__ == "__main__":
    sys.exit(main())
