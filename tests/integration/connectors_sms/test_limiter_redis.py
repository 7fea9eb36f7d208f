"""The shared sliding-window limiter against a real redis-server (one process, many tasks)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from connectors.sms.errors import RateLimiterUnavailable, RateLimitTimeout
from connectors.sms.ratelimit import RedisSlidingWindowLimiter, held_slot, max_in_window
from tests.integration.connectors_sms.conftest import RedisServer, free_port

pytestmark = pytest.mark.integration


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[Redis[Any]]:
    client: Redis[Any] = Redis.from_url(redis_server.url)
    yield client
    await client.aclose()  # type: ignore[attr-defined]


def limiter(redis: Redis[Any], limit: int, window_s: float, **kw: Any) -> RedisSlidingWindowLimiter:
    return RedisSlidingWindowLimiter(
        redis,
        f"test:{uuid.uuid4().hex}",
        limit=limit,
        window_s=window_s,
        lease_s=kw.pop("lease_s", 5.0),
        wait_timeout_s=kw.pop("wait_timeout_s", 30.0),
        **kw,
    )


async def test_many_tasks_never_exceed_the_limit(redis: Redis[Any]) -> None:
    lim = limiter(redis, limit=10, window_s=0.5)
    starts: list[float] = []
    ends: list[float] = []

    async def one() -> None:
        async with held_slot(lim):
            starts.append(time.monotonic())
            await asyncio.sleep(0.01)  # the "request"
            ends.append(time.monotonic())

    began = time.monotonic()
    await asyncio.gather(*(one() for _ in range(35)))
    elapsed = time.monotonic() - began
    assert len(starts) == 35
    assert max_in_window(starts, 0.5) <= 10
    assert max_in_window(ends, 0.5) <= 10
    # 35 requests at 10 per 0.5 s need at least three more windows after the first burst.
    assert elapsed >= 1.5
    assert elapsed < 6.0  # and waiting is exact, not sloppy polling


async def test_in_flight_requests_block_until_released(redis: Redis[Any]) -> None:
    lim = limiter(redis, limit=2, window_s=0.2)
    first = await lim.acquire()
    await lim.acquire()
    waiter = asyncio.create_task(lim.acquire())
    await asyncio.sleep(0.5)  # longer than the window: only the in-flight leases hold it back
    assert not waiter.done()
    assert await lim.in_window() == 2
    released = time.monotonic()
    await lim.release(first)
    await asyncio.wait_for(waiter, 2.0)
    assert time.monotonic() - released >= 0.19  # the released slot still counts for one window


async def test_wait_timeout_raises_typed_error(redis: Redis[Any]) -> None:
    lim = limiter(redis, limit=1, window_s=10.0, wait_timeout_s=0.3)
    await lim.release(await lim.acquire())
    with pytest.raises(RateLimitTimeout):
        await lim.acquire()


async def test_crashed_holder_frees_after_lease_and_window(redis: Redis[Any]) -> None:
    lim = limiter(redis, limit=1, window_s=0.2, lease_s=0.3)
    await lim.acquire()  # never released: the worker "died"
    started = time.monotonic()
    await lim.acquire()
    assert time.monotonic() - started >= 0.45  # lease 0.3 + window 0.2


async def test_two_limiters_on_one_key_share_the_count(redis: Redis[Any]) -> None:
    key = f"test:{uuid.uuid4().hex}"
    a = RedisSlidingWindowLimiter(redis, key, limit=3, window_s=5.0, lease_s=5.0, wait_timeout_s=0.2)
    b = RedisSlidingWindowLimiter(redis, key, limit=3, window_s=5.0, lease_s=5.0, wait_timeout_s=0.2)
    for lim in (a, b, a):
        await lim.release(await lim.acquire())
    with pytest.raises(RateLimitTimeout):
        await b.acquire()


async def test_unreachable_redis_fails_closed() -> None:
    dead: Redis[Any] = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0")
    try:
        with pytest.raises(RateLimiterUnavailable, match="Redis unreachable"):
            await limiter(dead, limit=1, window_s=1.0).acquire()
    finally:
        await dead.aclose()  # type: ignore[attr-defined]
