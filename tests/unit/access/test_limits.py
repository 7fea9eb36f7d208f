"""Rate limits (moving window, per principal and per API key, 429 + Retry-After) and lockout, on fakeredis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import fakeredis
import httpx
import pytest
from fastapi import Depends, FastAPI
from limits.aio.storage import RedisStorage

from api.access.issuer import TokenRequest
from api.access.limits import LimiterUnavailable, Lockout, RateLimiter, principal_rate_limit
from api.access.principal import Principal
from infra.access_settings import IdentitySettings
from tests.unit.access.identity_testing import Harness, memory_storage, opened, settings, sign_in


def principal(subject: str, kind: str = "person") -> Principal:
    return Principal(subject, kind, "analyst", None, frozenset(), None, None)  # type: ignore[arg-type]


def limiter(**overrides: str) -> RateLimiter:
    return RateLimiter(IdentitySettings(**overrides), memory_storage(fakeredis.FakeServer()))


async def test_the_moving_window_allows_the_limit_then_refuses_with_retry_after() -> None:
    rl = limiter(rate_limit_principal="3/minute")
    decisions = [await rl.check_principal(principal("emp:1")) for _ in range(5)]
    assert [d.allowed for d in decisions] == [True, True, True, False, False]
    assert [d.remaining for d in decisions[:3]] == [2, 1, 0]
    assert 1 <= decisions[-1].retry_after <= 60
    assert (await rl.check_principal(principal("emp:2"))).allowed  # another principal, its own budget


async def test_api_keys_have_their_own_limit() -> None:
    rl = limiter(rate_limit_principal="100/minute", rate_limit_api_key="2/minute")
    key = principal("key:abcdefghij", "api_key")
    assert [(await rl.check_principal(key)).allowed for _ in range(3)] == [True, True, False]


async def test_the_token_endpoint_limits_per_ip_and_per_login() -> None:
    rl = limiter(rate_limit_token_ip="4/minute", rate_limit_token_login="2/minute")
    by_login = [(await rl.check_token_request("10.0.0.1", "E00001")).allowed for _ in range(3)]
    assert by_login == [True, True, False]
    assert (await rl.check_token_request("10.0.0.1", "e00001 ")).allowed is False  # same login, other spelling
    assert (await rl.check_token_request("10.0.0.2", "E00002")).allowed
    assert not (await rl.check_token_request("10.0.0.1", "E00003")).allowed  # the IP's budget is spent


async def test_lockout_counts_failures_locks_and_clears() -> None:
    s = IdentitySettings(lockout_threshold=3, lockout_minutes=15)
    lockout = Lockout(s, fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer()))
    states = [await lockout.record_failure("E00001") for _ in range(3)]
    assert [st.failures for st in states] == [1, 2, 3] and states[-1].locked_for == 900
    assert 899 <= await lockout.locked_for("E00001") <= 900 and await lockout.locked_for("E00002") == 0
    other = Lockout(s, fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer()))
    await other.record_failure("E00009")
    await other.clear("E00009")
    assert (await other.record_failure("E00009")).failures == 1


async def test_an_unreachable_redis_is_limiter_unavailable_not_a_crash() -> None:
    s = IdentitySettings(redis_url="redis://127.0.0.1:1/0")
    rl = RateLimiter(s, RedisStorage("async+redis://127.0.0.1:1", implementation="redispy", wrap_exceptions=True))
    with pytest.raises(LimiterUnavailable):
        await rl.check_principal(principal("emp:1"))
    from redis.asyncio import Redis

    redis = Redis.from_url("redis://127.0.0.1:1/0")
    with pytest.raises(LimiterUnavailable):
        await Lockout(s, redis).record_failure("E00001")
    await redis.aclose()  # type: ignore[attr-defined]


@pytest.fixture
async def limited(tmp_path: Path) -> AsyncIterator[Harness]:
    async with opened(Harness(tmp_path / "keys", settings(rate_limit_principal="5/minute",
                                                          rate_limit_token_ip="4/minute"))) as harness:
        yield harness


async def test_the_router_dependency_answers_429_with_retry_after(limited: Harness) -> None:
    async with limited.client() as http:
        token = (await sign_in(http)).json()["access_token"]
        answers = [await http.get("/whoami", headers={"Authorization": f"Bearer {token}"}) for _ in range(7)]
    assert [a.status_code for a in answers] == [200] * 5 + [429] * 2
    assert 1 <= int(answers[-1].headers["retry-after"]) <= 60
    assert "too many requests" in answers[-1].json()["detail"]


async def test_the_token_endpoint_is_stricter_and_says_when_to_retry(limited: Harness) -> None:
    async with limited.client() as http:
        answers = [await sign_in(http, password="x") for _ in range(5)]
    assert [a.status_code for a in answers] == [401] * 4 + [429]
    assert answers[-1].json()["error"] == "slow_down" and int(answers[-1].headers["retry-after"]) >= 1


async def test_sign_in_fails_closed_and_requests_fail_open_without_redis(tmp_path: Path) -> None:
    broken = settings()
    harness = Harness(tmp_path / "keys", broken)
    harness.identity.limiter = RateLimiter(broken, RedisStorage("async+redis://127.0.0.1:1", implementation="redispy",
                                                                wrap_exceptions=True))
    token = harness.identity.issuer.issue(TokenRequest(subject="emp:1", scopes=frozenset({"reports"}),
                                                       amr=("pwd",))).token
    async with opened(harness), harness.client() as http:
        refused = await sign_in(http)
        served = await http.get("/whoami", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 503 and refused.json()["error"] == "temporarily_unavailable"
    assert served.status_code == 200


async def test_without_an_identity_provider_the_dependency_does_not_limit() -> None:
    app = FastAPI()

    async def someone() -> Principal:
        return principal("emp:1")

    @app.get("/x", dependencies=[Depends(principal_rate_limit(someone))])
    async def x() -> dict[str, bool]:
        return {"ok": True}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        assert (await http.get("/x")).status_code == 200
