"""The token endpoint end to end in process: sign-in, lockout, refresh rotation and reuse, logout, client
credentials, malformed requests; tokens checked by the API's own verifier and principal dependency."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import jwt
import pytest

from api.access.credentials import token_digest
from tests.unit.access.identity_testing import CLIENT_SECRET, PASSWORD, Harness, opened, settings, sign_in


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    async with opened(Harness(tmp_path / "keys", settings())) as started:
        yield started


async def test_password_grant_issues_a_token_the_api_verifier_accepts(harness: Harness) -> None:
    async with harness.client() as http:
        response = await sign_in(http)
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"
        body = response.json()
        assert body["token_type"] == "Bearer" and body["expires_in"] == 900
        assert body["refresh_token"].startswith("lgr_")
        header = jwt.get_unverified_header(body["access_token"])
        assert header["alg"] == "ES256" and header["typ"] == "at+jwt"
        assert header["kid"] in {k["kid"] for k in harness.identity.issuer.keys.jwks()["keys"]}
        claims = harness.verifier.verify(body["access_token"])
        assert claims["sub"] == "emp:1" and claims["aud"] == "luckygas-api" and claims["iss"] == harness.settings.issuer
        assert claims["exp"] - claims["iat"] == 900 and claims["nbf"] == claims["iat"]
        assert claims["amr"] == ["pwd"] and claims["auth_time"] == int(harness.clock.now().timestamp())
        assert "role" not in claims and claims["jti"] and claims["sid"]
        me = await http.get("/whoami", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200, me.text
    assert me.json() == {"subject": "emp:1", "role": "head_office", "kind": "person", "branches": None,
                         "scopes": ["reports"], "mfa_at": None}
    assert harness.kinds() == ["sign_in"]
    assert harness.audit.events[0].principal == "emp:1"


async def test_a_local_account_carries_its_role_and_branches_in_the_token(harness: Harness) -> None:
    async with harness.client() as http:
        body = (await sign_in(http, "analyst")).json()
        claims = harness.verifier.verify(body["access_token"])
        me = await http.get("/whoami", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert claims["sub"] == "user:analyst" and claims["role"] == "analyst" and claims["branches"] == ["*"]
    assert me.json()["role"] == "analyst" and me.json()["branches"] is None


async def test_wrong_password_and_unknown_user_are_the_same_401_and_are_counted(harness: Harness) -> None:
    async with harness.client() as http:
        wrong = await sign_in(http, password="not it")
        unknown = await sign_in(http, username="E99999")
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_grant"
    assert wrong.json()["error_description"] == unknown.json()["error_description"]
    assert harness.kinds() == ["sign_in_failed", "sign_in_failed"]
    assert harness.audit.events[0].principal == "login:E00001"
    state = await harness.identity.lockout.record_failure("E00001")
    assert state.failures == 2  # the route's failure was counted


async def test_five_failures_lock_the_account_for_fifteen_minutes(harness: Harness) -> None:
    async with harness.client() as http:
        for _ in range(4):
            assert (await sign_in(http, password="guess")).status_code == 401
        fifth = await sign_in(http, password="guess")
        right_password = await sign_in(http)
        other_user = await sign_in(http, username="E00002")
    assert fifth.status_code == 401 and "locked" in fifth.json()["error_description"]
    assert right_password.status_code == 401 and "locked" in right_password.json()["error_description"]
    assert 890 <= int(right_password.headers["retry-after"]) <= 900
    assert other_user.status_code == 200
    failed = [e for e in harness.audit.events if e.kind == "sign_in_failed"]
    assert len(failed) == 6 and "locked" in (failed[-1].detail or "")


async def test_a_terminated_employee_cannot_sign_in(harness: Harness) -> None:
    from dataclasses import replace

    harness.store.accounts["E00002"] = replace(harness.store.accounts["E00002"], active=False)
    async with harness.client() as http:
        response = await sign_in(http, "E00002")
    assert response.status_code == 401


async def test_refresh_rotates_and_reuse_revokes_the_whole_family(harness: Harness) -> None:
    async with harness.client() as http:
        first = (await sign_in(http)).json()
        harness.clock.advance(timedelta(minutes=10))
        second = await http.post("/oauth/token", data={"grant_type": "refresh_token",
                                                       "refresh_token": first["refresh_token"]})
        assert second.status_code == 200, second.text
        rotated = second.json()
        assert rotated["refresh_token"] != first["refresh_token"]
        claims = harness.verifier.verify(rotated["access_token"])
        assert claims["auth_time"] == harness.verifier.verify(first["access_token"])["auth_time"]
        reuse = await http.post("/oauth/token", data={"grant_type": "refresh_token",
                                                      "refresh_token": first["refresh_token"]})
        after = await http.post("/oauth/token", data={"grant_type": "refresh_token",
                                                      "refresh_token": rotated["refresh_token"]})
    assert reuse.status_code == 401 and "already used" in reuse.json()["error_description"]
    assert after.status_code == 401  # the legitimate successor went with the family
    session = await harness.store.refresh_session(token_digest(rotated["refresh_token"]))
    assert session is not None and session.revoked_at is not None
    assert harness.kinds() == ["sign_in", "token_refresh", "token_reuse"]
    assert harness.audit.events[-1].principal == "emp:1"


async def test_an_expired_refresh_token_is_refused(harness: Harness) -> None:
    async with harness.client() as http:
        first = (await sign_in(http)).json()
        harness.clock.advance(timedelta(hours=13))
        response = await http.post("/oauth/token", data={"grant_type": "refresh_token",
                                                         "refresh_token": first["refresh_token"]})
    assert response.status_code == 401 and "expired" in response.json()["error_description"]


async def test_logout_revokes_the_session_and_the_access_token(harness: Harness) -> None:
    async with harness.client() as http:
        first = (await sign_in(http)).json()
        revoked = await http.post("/oauth/revoke", data={"token": first["access_token"],
                                                         "token_type_hint": "access_token"})
        refresh = await http.post("/oauth/token", data={"grant_type": "refresh_token",
                                                        "refresh_token": first["refresh_token"]})
        again = await http.post("/oauth/revoke", data={"token": "not-a-token-of-ours"})
        second = (await sign_in(http)).json()
        by_refresh = await http.post("/oauth/revoke", data={"token": second["refresh_token"]})
        refresh_2 = await http.post("/oauth/token", data={"grant_type": "refresh_token",
                                                          "refresh_token": second["refresh_token"]})
    assert revoked.status_code == 200 and again.status_code == 200 and by_refresh.status_code == 200
    assert refresh.status_code == 401 and refresh_2.status_code == 401
    jti = harness.verifier.verify(first["access_token"])["jti"]
    assert await harness.identity.access_token_revoked(jti)
    assert harness.kinds().count("logout") == 2


async def test_client_credentials_by_basic_auth_and_by_form(harness: Harness) -> None:
    basic = base64.b64encode(f"report-scheduler:{CLIENT_SECRET}".encode()).decode()
    async with harness.client() as http:
        by_basic = await http.post("/oauth/token", data={"grant_type": "client_credentials"},
                                   headers={"Authorization": f"Basic {basic}"})
        by_form = await http.post("/oauth/token", data={"grant_type": "client_credentials", "scope": "read:kpis",
                                                        "client_id": "report-scheduler",
                                                        "client_secret": CLIENT_SECRET})
        wrong = await http.post("/oauth/token", data={"grant_type": "client_credentials"},
                                headers={"Authorization": "Basic " + base64.b64encode(b"report-scheduler:x").decode()})
        too_wide = await http.post("/oauth/token", data={"grant_type": "client_credentials", "scope": "read:ledger",
                                                         "client_id": "report-scheduler",
                                                         "client_secret": CLIENT_SECRET})
        me = await http.get("/whoami", headers={"Authorization": f"Bearer {by_basic.json()['access_token']}"})
    assert by_basic.status_code == 200 and "refresh_token" not in by_basic.json()
    claims = harness.verifier.verify(by_basic.json()["access_token"])
    assert claims["sub"] == "client:report-scheduler" and claims["role"] == "integration"
    assert claims["scope"] == "read:freshness read:kpis"
    assert by_form.json()["scope"] == "read:kpis"
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    assert wrong.headers["www-authenticate"].startswith("Basic")
    assert too_wide.status_code == 400 and too_wide.json()["error"] == "invalid_scope"
    assert me.json()["kind"] == "service" and me.json()["scopes"] == ["read:freshness", "read:kpis"]


@pytest.mark.parametrize(("data", "error"), [
    ({}, "invalid_request"),
    ({"grant_type": "authorization_code", "code": "x"}, "unsupported_grant_type"),
    ({"grant_type": "password", "username": "E00001"}, "invalid_request"),
    ({"grant_type": "password", "username": "E" * 65, "password": "x"}, "invalid_request"),
    ({"grant_type": "refresh_token"}, "invalid_request"),
    ({"grant_type": "refresh_token", "refresh_token": "x" * 5000}, "invalid_request"),
    ({"grant_type": "password", "username": "E00001", "password": PASSWORD, "client_id": "evil"}, "invalid_client"),
])
async def test_malformed_token_requests_are_4xx_with_an_oauth_error(harness: Harness, data: dict[str, str],
                                                                     error: str) -> None:
    async with harness.client() as http:
        response = await http.post("/oauth/token", data=data)
    assert 400 <= response.status_code < 500
    assert response.json()["error"] == error


async def test_a_json_body_or_a_broken_basic_header_is_not_a_500(harness: Harness) -> None:
    async with harness.client() as http:
        as_json = await http.post("/oauth/token", json={"grant_type": "password"})
        broken = await http.post("/oauth/token", data={"grant_type": "client_credentials"},
                                 headers={"Authorization": "Basic !!!"})
    assert as_json.status_code == 400 and broken.status_code == 400


async def test_jwks_and_metadata_are_public(harness: Harness) -> None:
    async with harness.client() as http:
        jwks = await http.get("/.well-known/jwks.json")
        meta = await http.get("/.well-known/oauth-authorization-server")
    keys = jwks.json()["keys"]
    assert len(keys) == 2 and {k["kty"] for k in keys} == {"EC"} and all("d" not in k for k in keys)
    assert meta.json()["token_endpoint"].endswith("/oauth/token")
    assert meta.json()["issuer"] == harness.settings.issuer


async def test_sign_in_is_refused_with_503_when_the_audit_trail_is_down(harness: Harness) -> None:
    harness.audit.available = False
    async with harness.client() as http:
        response = await sign_in(http)
    assert response.status_code == 503 and "access_token" not in response.json()
