"""API keys: created by the head office, shown once, argon2-hashed, IP allow-list, expiry, revocation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.access.credentials import parse_api_key, principal_from_api_key
from tests.unit.access.identity_testing import Harness, opened, settings, sign_in


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    async with opened(Harness(tmp_path / "keys", settings())) as started:
        yield started


async def head_office(http: httpx.AsyncClient, who: str = "E00001") -> dict[str, str]:
    return {"Authorization": f"Bearer {(await sign_in(http, who)).json()['access_token']}"}


NEW_KEY: dict[str, Any] = {"name": "Power BI refresh", "scopes": ["read:kpis", "read:sales"],
                           "allowed_ips": ["10.1.2.0/24", "2001:db8::/32"], "expires_in_days": 30}


async def test_a_key_is_shown_once_stored_hashed_and_works_from_an_allowed_ip(harness: Harness) -> None:
    async with harness.client() as http:
        auth = await head_office(http)
        created = await http.post("/keys", json=NEW_KEY, headers=auth)
        assert created.status_code == 201, created.text
        raw = created.json()["key"]
        listed = await http.get("/keys", headers=auth)
        me = await http.get("/whoami", headers={"X-API-Key": raw})
    prefix = created.json()["prefix"]
    assert raw.startswith(f"lgk_{prefix}_") and parse_api_key(raw) == prefix
    assert created.headers["cache-control"] == "no-store"
    assert listed.status_code == 200 and raw not in listed.text and "secret" not in listed.text
    assert [k["prefix"] for k in listed.json()] == [prefix]
    record = harness.store.keys[prefix]
    assert record.secret_hash.startswith("$argon2id$") and raw not in record.secret_hash
    assert me.status_code == 200, me.text
    assert me.json() == {"subject": f"key:{prefix}", "role": "integration", "kind": "api_key", "branches": None,
                         "scopes": ["read:kpis", "read:sales"], "mfa_at": None}
    assert harness.kinds() == ["sign_in", "key_created"]


async def test_a_key_is_refused_from_another_ip_after_expiry_and_after_revocation(harness: Harness) -> None:
    async with harness.client() as http:
        auth = await head_office(http)
        raw = (await http.post("/keys", json=NEW_KEY, headers=auth)).json()["key"]
        prefix = parse_api_key(raw)
        async with harness.client(ip="192.0.2.9") as outsider:
            elsewhere = await outsider.get("/whoami", headers={"X-API-Key": raw})
        ok = await http.get("/whoami", headers={"X-API-Key": raw})
        wrong_secret = await http.get("/whoami", headers={"X-API-Key": raw[:-4] + "AAAA"})
        revoked = await http.delete(f"/keys/{prefix}", headers=auth)
        after_revoke = await http.get("/whoami", headers={"X-API-Key": raw})
        revoke_again = await http.delete(f"/keys/{prefix}", headers=auth)
        second = (await http.post("/keys", json=NEW_KEY, headers=auth)).json()["key"]
        harness.clock.advance(timedelta(days=31))
        expired = await http.get("/whoami", headers={"X-API-Key": second})
    assert elsewhere.status_code == 401 and ok.status_code == 200 and wrong_secret.status_code == 401
    assert revoked.status_code == 204 and after_revoke.status_code == 401 and revoke_again.status_code == 404
    assert expired.status_code == 401
    assert "key_revoked" in harness.kinds()


async def test_only_the_head_office_manages_keys(harness: Harness) -> None:
    async with harness.client() as http:
        branch_manager = await head_office(http, "E00020")
        create = await http.post("/keys", json=NEW_KEY, headers=branch_manager)
        listing = await http.get("/keys", headers=branch_manager)
        nobody = await http.get("/keys")
    assert create.status_code == 403 and listing.status_code == 403 and nobody.status_code == 401
    assert "denied" in harness.kinds()


@pytest.mark.parametrize("change", [
    {"allowed_ips": []}, {"allowed_ips": ["not-a-network"]}, {"scopes": ["read:ledger"]}, {"scopes": ["admin"]},
    {"expires_in_days": 5000}, {"expires_in_days": 0}, {"branches": ["taipei"]}, {"name": ""},
])
async def test_bad_key_requests_are_400_or_422_never_500(harness: Harness, change: dict[str, Any]) -> None:
    async with harness.client() as http:
        auth = await head_office(http)
        response = await http.post("/keys", json={**NEW_KEY, **change}, headers=auth)
    assert response.status_code in (400, 422), response.text


async def test_a_key_limited_to_branches_and_a_bad_prefix_path(harness: Harness) -> None:
    async with harness.client() as http:
        auth = await head_office(http)
        raw = (await http.post("/keys", json={**NEW_KEY, "branches": ["NTP"]}, headers=auth)).json()["key"]
        me = await http.get("/whoami", headers={"X-API-Key": raw})
        bad_path = await http.delete("/keys/NOT_A_PREFIX", headers=auth)
    assert me.json()["branches"] == ["NTP"]
    assert bad_path.status_code == 422


async def test_principal_from_api_key_uses_the_bound_verifier(harness: Harness) -> None:
    async with harness.client() as http:
        auth = await head_office(http)
        raw = (await http.post("/keys", json=NEW_KEY, headers=auth)).json()["key"]
    principal = await principal_from_api_key(raw, "10.1.2.3")
    assert principal is not None and principal.kind == "api_key"
    assert await principal_from_api_key(raw, "10.9.9.9") is None
    assert await principal_from_api_key("lgk_short", "10.1.2.3") is None
    assert await principal_from_api_key(raw, "10.1.2.3", harness.identity.api_keys) == principal
    await harness.identity.close()
    assert await principal_from_api_key(raw, "10.1.2.3") is None  # nothing bound: refused, not an error
    await harness.identity.open()
