"""Every route of the app refuses a caller without valid credentials: 401 with a Bearer challenge, never 500.

The routes come from the app itself (its OpenAPI document plus every route left out of it), so a route added
later is covered without touching this file; only the public routes are listed here, explicitly.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.unit.access.access_testing import AccessHarness, FakeClickHouse, SigningKey, claims, unsigned, zeros

PUBLIC: set[tuple[str, str]] = {
    ("POST", "/sms/receipts"),  # the SMS gateway's callback, signed per receipt (X-Sms-Signature)
    ("GET", "/.well-known/jwks.json"),  # our public keys
    ("GET", "/openapi.json"), ("GET", "/docs"), ("GET", "/docs/oauth2-redirect"), ("GET", "/redoc"),
}
# The token endpoint and its kin authenticate clients themselves; the key set and metadata are public by
# design. MFA routes verify the bearer token through the identity provider (tests/unit/access/test_oauth_mfa.py)
# and refuse a caller without one like every other route (below).
PUBLIC_PREFIXES = ("/oauth/", "/.well-known/", "/mfa/")


def all_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route: the OpenAPI document's and the app's own (HEAD aside)."""
    schema = app.openapi()
    found = {(method.upper(), path) for path, item in schema["paths"].items() for method in item
             if method in {"get", "put", "post", "delete", "patch", "options", "trace"}}
    try:
        from fastapi.routing import iter_route_contexts
        contexts = list(iter_route_contexts(app.routes))
    except ImportError:  # an older FastAPI flattens included routers into app.routes
        contexts = list(app.routes)  # type: ignore[arg-type]
    for route in contexts:
        path, methods = getattr(route, "path", None), getattr(route, "methods", None) or set()
        if path is None:
            continue
        found |= {(m, path) for m in methods if m != "HEAD"}
    return found


def protected(app: FastAPI) -> list[tuple[str, str]]:
    return sorted(r for r in all_routes(app) if r not in PUBLIC and not r[1].startswith(PUBLIC_PREFIXES))


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x1", path)


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AccessHarness, TestClient]]:
    fake = FakeClickHouse(answer=lambda sql: [] if "freshness_now" in sql else zeros(sql))
    h = AccessHarness(Path(tmp_path_factory.mktemp("protection")), clickhouse=fake)
    with h.client() as client:
        yield h, client


def bad_credentials(h: AccessHarness) -> dict[str, dict[str, str]]:
    expired = h.key.sign({**claims(h.clock, "emp:1"), "exp": int(h.clock.now().timestamp()) - 120})
    return {
        "none": {},
        "expired": {"Authorization": f"Bearer {expired}"},
        "other key": {"Authorization": f"Bearer {SigningKey().sign(claims(h.clock, 'emp:1'))}"},
        "same kid, other key": {"Authorization": "Bearer " + SigningKey(kid=h.key.kid).sign(claims(h.clock, "emp:1"))},
        "alg none": {"Authorization": f"Bearer {unsigned(claims(h.clock, 'emp:1'))}"},
        "wrong audience": {"Authorization": "Bearer " + h.key.sign(claims(h.clock, "emp:1", aud="other-api"))},
        "wrong issuer": {"Authorization": "Bearer " + h.key.sign(claims(h.clock, "emp:1", iss="https://evil"))},
        "too long lived": {"Authorization": "Bearer " + h.key.sign(claims(h.clock, "emp:1",
                                                                          lifetime=timedelta(days=30)))},
        "garbage": {"Authorization": "Bearer !!not a token!!"},
        "not bearer": {"Authorization": "Basic ZW1wOjE6cGFzcw=="},
        "empty bearer": {"Authorization": "Bearer "},
        "three dots": {"Authorization": "Bearer a.b.c"},
        "oversized": {"Authorization": "Bearer " + "a" * 100_000},
        "bad api key": {"X-API-Key": "lgk_" + "0" * 40},
    }


def test_the_list_of_routes_is_the_apps(harness: tuple[AccessHarness, TestClient]) -> None:
    h, _ = harness
    routes = protected(h.app)
    assert {("GET", "/kpis/today"), ("GET", "/freshness"), ("GET", "/metrics"), ("GET", "/health/ready"),
            ("GET", "/sms/messages/{message_id}")} <= set(routes)
    assert ("GET", "/health/live") in routes and ("POST", "/sms/receipts") not in routes


def test_every_protected_route_refuses_bad_credentials(harness: tuple[AccessHarness, TestClient]) -> None:
    h, client = harness
    failures = []
    for method, path in protected(h.app):
        for name, headers in bad_credentials(h).items():
            response = client.request(method, concrete(path), headers=headers)
            challenge = response.headers.get("www-authenticate", "")
            if response.status_code != 401 or not challenge.startswith("Bearer "):
                failures.append((method, path, name, response.status_code, response.text[:200]))
            elif name != "none" and 'error="invalid_token"' not in challenge:
                failures.append((method, path, name, "challenge", challenge))
    assert failures == []


def test_a_valid_token_passes_the_gate_of_every_route(harness: tuple[AccessHarness, TestClient]) -> None:
    """The head office (every family), just through MFA, gets past authentication everywhere (no 401)."""
    h, client = harness
    for method, path in protected(h.app):
        response = client.request(method, concrete(path), headers=h.bearer("emp:1", amr=["pwd", "otp"]))
        assert response.status_code not in (401, 500), (method, path, response.status_code, response.text[:200])


def test_without_audit_store_or_identity_provider_an_anonymous_caller_is_still_refused_not_503(
    tmp_path: Path,
) -> None:
    """An app whose stores are not open (no lifespan: no audit log, no identity provider, no ClickHouse) refuses
    every non-public route, MFA routes included, with 401: a refusal serves no data, so it needs no audit record
    to go out; only data is held back (503) when it cannot be audited."""
    from api.app import create_app
    from tests.unit.access.access_testing import stack_settings

    app = create_app(stack_settings(tmp_path))
    client = TestClient(app, raise_server_exceptions=False)
    routes = protected(app) + sorted(r for r in all_routes(app) if r[1].startswith("/mfa/"))
    answers = {(method, path): client.request(method, concrete(path)).status_code for method, path in routes}
    assert answers and set(answers.values()) == {401}, answers
