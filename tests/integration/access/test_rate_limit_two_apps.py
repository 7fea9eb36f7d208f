"""Rate limits across two API instances (uvicorn, each in its own thread and event loop) sharing one Redis,
under a concurrent burst: exactly the limit is served in total, every other request is 429 with Retry-After."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import httpx
import pytest

from api.access.seed_demo_users import seed_demo_users_async
from infra.access_settings import IdentitySettings
from tests.integration.access.identity_apps import Served, build_app, ports
from tests.unit.access.identity_testing import CHEAP

pytestmark = pytest.mark.integration

LIMIT, BURST = 25, 80


async def burst(urls: list[str], requests: list[tuple[str, dict[str, object]]]) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=BURST)
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:
        calls = [http.request(method, url, **kwargs)  # type: ignore[arg-type]
                 for url, (method, kwargs) in zip(itertools.cycle(urls), requests, strict=False)]
        return list(await asyncio.gather(*calls))


async def test_a_burst_over_two_instances_is_limited_exactly(identity_dsn: str, schema: str,
                                                             identity_redis_url: str, redis_prefix: str,
                                                             tmp_path: Path) -> None:
    users = await seed_demo_users_async(identity_dsn, tmp_path / "demo.json", hasher=CHEAP, schema=schema, per_role=1)
    analyst = next(u for u in users if u.role == "analyst")
    settings = IdentitySettings(redis_url=identity_redis_url, redis_key_prefix=redis_prefix,
                                rate_limit_principal=f"{LIMIT}/minute", rate_limit_token_ip="10/minute",
                                rate_limit_token_login="1000/minute")
    apps = [build_app(settings, identity_dsn, schema, tmp_path / "keys") for _ in range(2)]
    first, second = ports(2)
    with Served(apps[0], first) as one, Served(apps[1], second) as two:
        urls = [one.url, two.url]
        async with httpx.AsyncClient() as http:
            token = (await http.post(f"{one.url}/oauth/token", data={
                "grant_type": "password", "username": analyst.user, "password": analyst.password})).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        # the second instance spends most of the budget first; then a burst over both gets only the rest
        first_part = await burst([f"{two.url}/whoami"], [("GET", {"headers": headers})] * (LIMIT - 5))
        answers = await burst([f"{u}/whoami" for u in urls], [("GET", {"headers": headers})] * BURST)
        sign_ins = await burst([f"{u}/oauth/token" for u in urls], [("POST", {"data": {
            "grant_type": "password", "username": analyst.user, "password": analyst.password}})] * 30)
    assert [a.status_code for a in first_part] == [200] * (LIMIT - 5)
    codes = [a.status_code for a in answers]
    assert codes.count(200) == 5 and codes.count(429) == BURST - 5, codes
    refused_by = {str(a.request.url).rsplit("/", 1)[0] for a in answers if a.status_code == 429}
    assert refused_by == set(urls)  # both instances refuse: one budget in Redis, not one per instance
    for refused in (a for a in answers if a.status_code == 429):
        assert 1 <= int(refused.headers["retry-after"]) <= 60
    token_codes = [a.status_code for a in sign_ins]
    # the first sign-in above spent one of the IP's 10 per minute
    assert token_codes.count(200) == 9 and token_codes.count(429) == 21, token_codes
    assert all(int(a.headers["retry-after"]) >= 1 for a in sign_ins if a.status_code == 429)
