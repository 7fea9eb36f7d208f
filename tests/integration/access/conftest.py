"""Real services for the identity provider's integration tests.

- `identity_dsn`: the stack's PostgreSQL (the `stack` fixture: w110 employees from the simulator); or, when
  `LG_TEST_IDENTITY_PG_DSN` is set, that database (a developer's throwaway one with a backfill in it).
- `identity_redis_url`: a `redis-server` of our own (infra/redis/runner.py) on a free port, stopped at the
  end; or `LG_TEST_IDENTITY_REDIS_URL`.
- `schema`: a fresh schema per test for the credential tables, dropped afterwards (the stack's own `auth`
  schema and its demo users are never touched).
- `redis_prefix`: a fresh Redis key prefix per test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import psycopg
import pytest
from psycopg import sql

from infra.process import free_port
from infra.redis.runner import start_redis, stop_redis


@pytest.fixture(scope="session")
def identity_dsn(request: pytest.FixtureRequest) -> str:
    configured = os.environ.get("LG_TEST_IDENTITY_PG_DSN")
    if configured:
        return configured
    stack = request.getfixturevalue("stack")
    dsn: str = stack.postgres.dsn()
    return dsn


@pytest.fixture(scope="session")
def identity_redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    configured = os.environ.get("LG_TEST_IDENTITY_REDIS_URL")
    if configured:
        yield configured
        return
    state_dir, port = tmp_path_factory.mktemp("identity-redis"), free_port()
    start_redis("127.0.0.1", port, state_dir)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop_redis(state_dir)


@pytest.fixture
async def schema(identity_dsn: str) -> AsyncIterator[str]:
    name = f"auth_t{uuid.uuid4().hex[:12]}"
    yield name
    async with await psycopg.AsyncConnection.connect(identity_dsn, autocommit=True) as conn:
        await conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


@pytest.fixture
def redis_prefix() -> str:
    return f"lgt:{uuid.uuid4().hex[:12]}"
