"""One worker process of the alert-storm test: sends its share of alerts through the shared limiter.

Runs in a fresh (spawned) process, as a real deployment's worker would: its own event loop, HTTP pool and
Redis connection; only Redis and the gateway are shared with the other workers.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.sms.client import SendResult, idempotency_key_for, open_sms_client
from connectors.sms.settings import SmsSettings
from connectors.sms.templates import KpiBreachAlert, ShortLink, TemplateContext, render_alert

RECIPIENT = "+886912345678"


@dataclass(frozen=True)
class WorkerReport:
    worker: int
    sent: int
    attempts: int
    replayed: int
    seconds: float
    errors: list[str]


def run_worker(settings_values: dict[str, Any], worker: int, first: int, count: int, concurrency: int) -> WorkerReport:
    """Send alerts number first .. first+count-1 with `concurrency` tasks; returns what happened."""
    return asyncio.run(_run(SmsSettings(_env_file=None, **settings_values), worker, first, count, concurrency))


async def _run(settings: SmsSettings, worker: int, first: int, count: int, concurrency: int) -> WorkerReport:
    context = TemplateContext.from_settings(settings)
    base = datetime(2026, 1, 15, 2, 0, tzinfo=UTC)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(first, first + count):
        queue.put_nowait(n)
    results: list[SendResult] = []
    errors: list[str] = []
    started = time.monotonic()
    async with open_sms_client(settings) as client:

        async def sender() -> None:
            while not queue.empty():
                n = queue.get_nowait()
                at = base + timedelta(minutes=n)
                alert = render_alert(
                    KpiBreachAlert(f"站{n:04d}存量", f"{n % 90}桶", "100桶", at, ShortLink(f"S{n:05d}")), context
                )
                try:
                    results.append(await client.send_alert(RECIPIENT, alert, idempotency_key_for("storm", str(n))))
                except Exception as exc:  # reported to the test, which fails on any
                    errors.append(f"{n}: {type(exc).__name__}: {exc}")

        await asyncio.gather(*(sender() for _ in range(concurrency)))
    return WorkerReport(
        worker,
        len(results),
        sum(r.attempts for r in results),
        sum(r.replayed for r in results),
        time.monotonic() - started,
        errors,
    )
