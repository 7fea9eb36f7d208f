"""ALERT STORM: 1,000 alerts from 3 worker processes sharing one Redis limiter never exceed the limit.

Same code path as production, shorter window: 100 per 3 s instead of 100 per 60 s. The proof is taken at
the gateway: from the arrival time of EVERY request it received (accepted or not), no sliding window of
3 s ever held more than 100, and the gateway (which enforces the same limit) never had to answer 429.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

import pytest

from connectors.sms.ratelimit import max_in_window
from connectors.sms.settings import SmsSettings
from tests.integration.connectors_sms.conftest import Gateway
from tests.integration.connectors_sms.storm_worker import WorkerReport, run_worker

pytestmark = pytest.mark.integration

LIMIT = 100
WINDOW_S = 3.0
TOTAL = 1_000
WORKERS = 3
CONCURRENCY = 40  # sending tasks per worker: far more demand than the limit allows


async def test_alert_storm_across_processes_respects_the_global_limit(
    start_gateway: Callable[..., Gateway], sms_settings: Callable[..., SmsSettings]
) -> None:
    gateway = start_gateway(rate_limit=LIMIT, window_s=WINDOW_S)
    settings = sms_settings(
        gateway.url,
        rate_limit_per_window=LIMIT,
        rate_window_seconds=WINDOW_S,
        max_retries=3,
        rate_wait_timeout_seconds=120.0,
    )
    values = {
        **settings.model_dump(),
        "api_key": settings.api_key.get_secret_value(),
        "receipt_hmac_secret": settings.receipt_hmac_secret.get_secret_value(),
    }
    shares = [TOTAL // WORKERS + (1 if w < TOTAL % WORKERS else 0) for w in range(WORKERS)]
    firsts = [sum(shares[:w]) for w in range(WORKERS)]
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(WORKERS, mp_context=multiprocessing.get_context("spawn")) as pool:
        reports: list[WorkerReport] = await asyncio.gather(
            *(
                loop.run_in_executor(pool, run_worker, values, w, firsts[w], shares[w], CONCURRENCY)
                for w in range(WORKERS)
            )
        )

    assert [e for r in reports for e in r.errors] == []
    requests = gateway.state.requests()
    messages = gateway.state.messages()
    arrivals = [r.at for r in requests]
    busiest = max_in_window(arrivals, WINDOW_S)
    span = max(arrivals) - min(arrivals)
    per_window = (len(arrivals) - LIMIT) / span * WINDOW_S  # steady state after the first full window
    print(
        f"\nSTORM: {len(messages)} SMS from {WORKERS} processes in {span:.1f}s; busiest {WINDOW_S:g}s window "
        f"held {busiest} (limit {LIMIT}); steady rate {per_window:.1f} per window = {per_window:.1f} SMS/min "
        f"at the production 60s window; worker times {[round(r.seconds, 1) for r in reports]}"
    )

    assert busiest <= LIMIT
    assert [r.status for r in requests if r.status != 202] == []  # never a 429 from the gateway
    assert len(messages) == TOTAL
    assert len({m.idempotency_key for m in messages}) == TOTAL  # every alert sent exactly once
    assert sum(r.sent for r in reports) == TOTAL
    # The limiter does not starve either: each window after the first burst is mostly used.
    assert per_window >= 0.6 * LIMIT
