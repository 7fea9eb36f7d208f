"""The identity provider on PostgreSQL and Redis: demo users seeded from the simulator's employees sign in,
the lockout is shared by two instances, refresh reuse revokes the family, API keys live in PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg import sql

from api.access.seed_demo_users import format_demo_users, seed_demo_users_async
from infra.access_settings import IdentitySettings
from tests.integration.access.identity_apps import build_app
from tests.unit.access.identity_testing import CHEAP

pytestmark = pytest.mark.integration


def settings(redis_url: str, prefix: str, **overrides: object) -> IdentitySettings:
    values: dict[str, object] = {"redis_url": redis_url, "redis_key_prefix": prefix, "api_key_cache_seconds": 0.0,
                                 "rate_limit_token_ip": "1000/minute", "rate_limit_token_login": "1000/minute"}
    return IdentitySettings(**{**values, **overrides})


def client(app: object, ip: str = "10.1.2.3") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(ip, 5000)), base_url="http://api")  # type: ignore[arg-type]


async def test_seeded_demo_users_of_every_role_sign_in(identity_dsn: str, schema: str, identity_redis_url: str,
                                                       redis_prefix: str, tmp_path: Path) -> None:
    users = await seed_demo_users_async(identity_dsn, tmp_path / "demo.json", hasher=CHEAP, schema=schema)
    again = await seed_demo_users_async(identity_dsn, tmp_path / "demo.json", hasher=CHEAP, schema=schema)
    assert [(u.user, u.password) for u in users] == [(u.user, u.password) for u in again]
    roles = {u.role for u in users}
    assert {"head_office", "branch_manager", "dispatcher", "sales", "analyst", "auditor", "integration"} <= roles
    assert (tmp_path / "demo.json").stat().st_mode & 0o077 == 0
    table = format_demo_users(users)
    assert all(u.password in table for u in users)
    app = build_app(settings(identity_redis_url, redis_prefix), identity_dsn, schema, tmp_path / "keys")
    async with app.router.lifespan_context(app), client(app) as http:
        for user in users:
            if user.grant == "client_credentials":
                data = {"grant_type": "client_credentials", "client_id": user.user, "client_secret": user.password}
            else:
                data = {"grant_type": "password", "username": user.user, "password": user.password}
            response = await http.post("/oauth/token", data=data)
            assert response.status_code == 200, (user, response.text)
            me = await http.get("/whoami", headers={"Authorization": f"Bearer {response.json()['access_token']}"})
            assert me.status_code == 200, (user, me.text)
            assert me.json() == {"subject": user.subject, "role": user.role}


async def test_lockout_and_refresh_reuse_hold_across_two_instances(identity_dsn: str, schema: str,
                                                                    identity_redis_url: str, redis_prefix: str,
                                                                    tmp_path: Path) -> None:
    users = await seed_demo_users_async(identity_dsn, tmp_path / "demo.json", hasher=CHEAP, schema=schema, per_role=1)
    head = next(u for u in users if u.role == "head_office")
    dispatcher = next(u for u in users if u.role == "dispatcher")
    s = settings(identity_redis_url, redis_prefix, lockout_threshold=5)
    one = build_app(s, identity_dsn, schema, tmp_path / "keys")
    two = build_app(s, identity_dsn, schema, tmp_path / "keys")
    async with one.router.lifespan_context(one), two.router.lifespan_context(two), client(one) as a, \
            client(two) as b:
        for http in (a, b, a, b, a):
            wrong = await http.post("/oauth/token", data={"grant_type": "password", "username": head.user,
                                                          "password": "guess"})
            assert wrong.status_code == 401
        locked = await b.post("/oauth/token", data={"grant_type": "password", "username": head.user,
                                                    "password": head.password})
        assert locked.status_code == 401 and "locked" in locked.json()["error_description"]
        tokens = (await a.post("/oauth/token", data={"grant_type": "password", "username": dispatcher.user,
                                                     "password": dispatcher.password})).json()
        rotated = await b.post("/oauth/token", data={"grant_type": "refresh_token",
                                                     "refresh_token": tokens["refresh_token"]})
        assert rotated.status_code == 200
        reuse = await a.post("/oauth/token", data={"grant_type": "refresh_token",
                                                   "refresh_token": tokens["refresh_token"]})
        assert reuse.status_code == 401
        successor = await b.post("/oauth/token", data={"grant_type": "refresh_token",
                                                       "refresh_token": rotated.json()["refresh_token"]})
        assert successor.status_code == 401
    assert "token_reuse" in [e.kind for e in one.state.audit.events]


async def test_api_keys_in_postgresql_hashed_and_revocable(identity_dsn: str, schema: str, identity_redis_url: str,
                                                           redis_prefix: str, tmp_path: Path) -> None:
    users = await seed_demo_users_async(identity_dsn, tmp_path / "demo.json", hasher=CHEAP, schema=schema, per_role=1)
    head = next(u for u in users if u.role == "head_office")
    app = build_app(settings(identity_redis_url, redis_prefix), identity_dsn, schema, tmp_path / "keys")
    async with app.router.lifespan_context(app), client(app) as http:
        token = (await http.post("/oauth/token", data={"grant_type": "password", "username": head.user,
                                                       "password": head.password})).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        created = await http.post("/keys", headers=auth, json={"name": "ERP", "scopes": ["read:kpis"],
                                                               "allowed_ips": ["10.1.2.0/24"]})
        assert created.status_code == 201, created.text
        raw, prefix = created.json()["key"], created.json()["prefix"]
        assert (await http.get("/whoami", headers={"X-API-Key": raw})).json()["subject"] == f"key:{prefix}"
        async with client(app, ip="10.9.9.9") as outsider:
            assert (await outsider.get("/whoami", headers={"X-API-Key": raw})).status_code == 401
        async with await psycopg.AsyncConnection.connect(identity_dsn) as conn:
            cur = await conn.execute(sql.SQL("SELECT secret_hash, allowed_ips::text[] FROM {}.api_key").format(
                sql.Identifier(schema)))
            stored = await cur.fetchone()
        assert stored is not None and stored[0].startswith("$argon2id$") and raw not in stored[0]
        assert stored[1] == ["10.1.2.0/24"]
        assert (await http.delete(f"/keys/{prefix}", headers=auth)).status_code == 204
        assert (await http.get("/whoami", headers={"X-API-Key": raw})).status_code == 401
