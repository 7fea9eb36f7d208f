"""TOTP enrolment and verification: the URI once, a token with amr pwd+otp and mfa_at, replays refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pyotp
import pytest

from tests.unit.access.identity_testing import Harness, opened, settings, sign_in


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    async with opened(Harness(tmp_path / "keys", settings())) as started:
        yield started


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def enrolled(harness: Harness, http: httpx.AsyncClient) -> tuple[dict[str, str], pyotp.TOTP]:
    tokens = (await sign_in(http)).json()
    response = await http.post("/mfa/totp/enrol", headers=bearer(tokens["access_token"]))
    assert response.status_code == 201, response.text
    return tokens, pyotp.TOTP(response.json()["secret"])


async def test_enrol_returns_the_otpauth_uri_once(harness: Harness) -> None:
    async with harness.client() as http:
        tokens = (await sign_in(http)).json()
        response = await http.post("/mfa/totp/enrol", headers=bearer(tokens["access_token"]))
        body = response.json()
        uri = urlparse(body["otpauth_uri"])
        assert uri.scheme == "otpauth" and uri.netloc == "totp" and "E00001" in uri.path
        assert parse_qs(uri.query)["secret"] == [body["secret"]]
        code = pyotp.TOTP(body["secret"]).at(harness.clock.now())
        assert (await http.post("/mfa/totp/verify", json={"code": code},
                                headers=bearer(tokens["access_token"]))).status_code == 200
        again = await http.post("/mfa/totp/enrol", headers=bearer(tokens["access_token"]))
    assert response.headers["cache-control"] == "no-store"
    assert again.status_code == 409  # confirmed: the secret is never shown again
    assert harness.kinds() == ["sign_in", "mfa_enrol", "mfa_verify"]


async def test_verify_gives_a_token_with_pwd_otp_and_mfa_at_the_api_accepts(harness: Harness) -> None:
    async with harness.client() as http:
        tokens, totp = await enrolled(harness, http)
        harness.clock.advance(timedelta(minutes=2))
        response = await http.post("/mfa/totp/verify", json={"code": totp.at(harness.clock.now())},
                                   headers=bearer(tokens["access_token"]))
        assert response.status_code == 200, response.text
        claims = harness.verifier.verify(response.json()["access_token"])
        me = await http.get("/whoami", headers=bearer(response.json()["access_token"]))
        refreshed = await http.post("/oauth/token", data={"grant_type": "refresh_token",
                                                          "refresh_token": tokens["refresh_token"]})
    assert claims["amr"] == ["pwd", "otp"] and claims["mfa_at"] == int(harness.clock.now().timestamp())
    assert claims["auth_time"] == claims["mfa_at"] - 120 and claims["sid"]
    assert me.json()["mfa_at"] is not None
    after_refresh = harness.verifier.verify(refreshed.json()["access_token"])
    assert after_refresh["amr"] == ["pwd", "otp"] and after_refresh["mfa_at"] == claims["mfa_at"]


async def test_the_same_code_twice_is_a_replay_and_is_refused(harness: Harness) -> None:
    async with harness.client() as http:
        tokens, totp = await enrolled(harness, http)
        code = totp.at(harness.clock.now())
        first = await http.post("/mfa/totp/verify", json={"code": code}, headers=bearer(tokens["access_token"]))
        replay = await http.post("/mfa/totp/verify", json={"code": code}, headers=bearer(tokens["access_token"]))
        harness.clock.advance(timedelta(seconds=30))
        next_step = await http.post("/mfa/totp/verify", json={"code": totp.at(harness.clock.now())},
                                    headers=bearer(tokens["access_token"]))
        # the previous step's code is still within the ±1 window, but older than the last accepted step
        earlier = await http.post("/mfa/totp/verify", json={"code": code}, headers=bearer(tokens["access_token"]))
    assert first.status_code == 200
    assert replay.status_code == 401 and "replay" in replay.json()["error_description"]
    assert next_step.status_code == 200
    assert earlier.status_code == 401


async def test_wrong_codes_are_refused_and_lock_mfa_after_five(harness: Harness) -> None:
    async with harness.client() as http:
        tokens, totp = await enrolled(harness, http)
        right = totp.at(harness.clock.now())
        wrong = "000000" if right != "000000" else "111111"
        answers = [await http.post("/mfa/totp/verify", json={"code": wrong}, headers=bearer(tokens["access_token"]))
                   for _ in range(5)]
        locked = await http.post("/mfa/totp/verify", json={"code": right}, headers=bearer(tokens["access_token"]))
        malformed = await http.post("/mfa/totp/verify", json={"code": "12ab56"}, headers=bearer(tokens["access_token"]))
    assert [a.status_code for a in answers] == [401] * 5
    assert locked.status_code == 401 and "locked" in locked.json()["error_description"]
    assert "retry-after" in locked.headers
    assert malformed.status_code == 400


async def test_mfa_needs_a_valid_unrevoked_token_of_ours(harness: Harness) -> None:
    async with harness.client() as http:
        none = await http.post("/mfa/totp/enrol")
        garbage = await http.post("/mfa/totp/enrol", headers=bearer("abc.def.ghi"))
        tokens = (await sign_in(http)).json()
        await http.post("/oauth/revoke", data={"token": tokens["access_token"]})
        revoked = await http.post("/mfa/totp/enrol", headers=bearer(tokens["access_token"]))
        not_enrolled = (await sign_in(http, "E00002")).json()
        verify_first = await http.post("/mfa/totp/verify", json={"code": "123456"},
                                       headers=bearer(not_enrolled["access_token"]))
        client = await http.post("/oauth/token", data={"grant_type": "client_credentials",
                                                       "client_id": "report-scheduler",
                                                       "client_secret": "service-secret-0123456789"})
        service = await http.post("/mfa/totp/enrol", headers=bearer(client.json()["access_token"]))
    assert none.status_code == garbage.status_code == revoked.status_code == 401
    assert none.headers["www-authenticate"].startswith("Bearer")
    assert verify_first.status_code == 409
    assert service.status_code == 401  # a client has no account that could enrol
