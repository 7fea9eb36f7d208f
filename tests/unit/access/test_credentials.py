"""The CredentialStore contract (run here on the in-memory store, in tests/integration/access on PostgreSQL),
the API-key format and the API-key verifier."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from api.access.credentials import (
    ApiKeyRecord,
    ApiKeyVerifier,
    CredentialStore,
    RefreshSession,
    new_api_key,
    new_family_id,
    new_refresh_token,
    parse_api_key,
    token_digest,
)
from api.access.credentials_memory import MemoryCredentialStore
from infra.clock import FixedClock
from tests.unit.access.identity_testing import CHEAP

NOW = datetime(2026, 1, 15, 2, 0, tzinfo=UTC)


def session(subject: str = "emp:1", family: str | None = None) -> tuple[str, RefreshSession]:
    token = new_refresh_token()
    return token, RefreshSession(
        token_hash=token_digest(token), family_id=family or new_family_id(), subject=subject, client_id="luckygas-web",
        scopes=frozenset({"reports"}), amr=("pwd",), auth_time=NOW, issued_at=NOW,
        expires_at=NOW + timedelta(hours=12), family_expires_at=NOW + timedelta(days=7))


def key_record(prefix: str, **changes: object) -> ApiKeyRecord:
    values: dict[str, object] = {
        "prefix": prefix, "secret_hash": "$argon2id$placeholder", "name": "BI", "role": "integration",
        "scopes": frozenset({"read:kpis"}), "branches": None, "allowed_ips": ("10.0.0.0/8",),
        "created_by": "emp:1", "created_at": NOW, "expires_at": NOW + timedelta(days=30)}
    return ApiKeyRecord(**{**values, **changes})  # type: ignore[arg-type]


class CredentialStoreContract:
    """Every store must pass these; subclasses provide the `store` fixture."""

    async def test_rotation_spends_the_token_and_keeps_the_family(self, store: CredentialStore) -> None:
        token, first = session()
        await store.add_refresh(first)
        successor = new_refresh_token()
        result = await store.rotate_refresh(first.token_hash, token_digest(successor), NOW + timedelta(minutes=5),
                                            NOW + timedelta(hours=13))
        assert result.status == "rotated" and result.session is not None
        assert result.session.subject == "emp:1"
        new = await store.refresh_session(token_digest(successor))
        assert new is not None and new.family_id == first.family_id and new.used_at is None
        assert new.expires_at == NOW + timedelta(hours=13)
        old = await store.refresh_session(token_digest(token))
        assert old is not None and old.used_at == NOW + timedelta(minutes=5)

    async def test_reuse_revokes_the_whole_family(self, store: CredentialStore) -> None:
        _, first = session()
        _, other_family = session()
        await store.add_refresh(first)
        await store.add_refresh(other_family)
        successor = token_digest(new_refresh_token())
        await store.rotate_refresh(first.token_hash, successor, NOW, NOW + timedelta(hours=12))
        again = await store.rotate_refresh(first.token_hash, token_digest(new_refresh_token()), NOW,
                                           NOW + timedelta(hours=12))
        assert again.status == "reused"
        revoked = await store.refresh_session(successor)
        assert revoked is not None and revoked.revoked_at == NOW
        untouched = await store.refresh_session(other_family.token_hash)
        assert untouched is not None and untouched.revoked_at is None
        after = await store.rotate_refresh(successor, token_digest(new_refresh_token()), NOW, NOW)
        assert after.status == "revoked"

    async def test_concurrent_rotations_of_one_token_rotate_at_most_once(self, store: CredentialStore) -> None:
        _, first = session()
        await store.add_refresh(first)
        results = await asyncio.gather(*(store.rotate_refresh(first.token_hash, token_digest(new_refresh_token()),
                                                              NOW, NOW + timedelta(hours=1)) for _ in range(4)))
        statuses = sorted(r.status for r in results)
        assert statuses.count("rotated") == 1 and set(statuses) <= {"rotated", "reused", "revoked"}

    async def test_expired_and_unknown_tokens(self, store: CredentialStore) -> None:
        _, first = session()
        await store.add_refresh(first)
        late = await store.rotate_refresh(first.token_hash, "x" * 64, NOW + timedelta(hours=12), NOW)
        unknown = await store.rotate_refresh("0" * 64, "y" * 64, NOW, NOW)
        assert late.status == "expired" and unknown.status == "unknown" and unknown.session is None

    async def test_family_mfa_and_revocation(self, store: CredentialStore) -> None:
        _, first = session()
        await store.add_refresh(first)
        await store.set_family_mfa(first.family_id, NOW + timedelta(minutes=1))
        marked = await store.refresh_session(first.token_hash)
        assert marked is not None and marked.mfa_at == NOW + timedelta(minutes=1) and marked.amr == ("pwd", "otp")
        assert await store.revoke_family(first.family_id, NOW) == 1
        assert await store.revoke_family(first.family_id, NOW) == 0

    async def test_revoked_access_tokens(self, store: CredentialStore) -> None:
        assert not await store.access_token_revoked("jti-1")
        await store.revoke_access_token("jti-1", NOW + timedelta(minutes=15))
        await store.revoke_access_token("jti-1", NOW + timedelta(minutes=15))
        assert await store.access_token_revoked("jti-1")

    async def test_totp_steps_only_move_forward(self, store: CredentialStore) -> None:
        assert await store.totp("emp:1") is None
        await store.put_totp("emp:1", "JBSWY3DPEHPK3PXP", NOW)
        pending = await store.totp("emp:1")
        assert pending is not None and pending.secret == "JBSWY3DPEHPK3PXP" and pending.confirmed_at is None
        assert await store.accept_totp_step("emp:1", 100, NOW)
        assert not await store.accept_totp_step("emp:1", 100, NOW)
        assert not await store.accept_totp_step("emp:1", 99, NOW)
        assert await store.accept_totp_step("emp:1", 101, NOW + timedelta(seconds=30))
        confirmed = await store.totp("emp:1")
        assert confirmed is not None and confirmed.confirmed_at == NOW and confirmed.last_step == 101
        assert not await store.accept_totp_step("emp:2", 1, NOW)

    async def test_concurrent_acceptance_of_one_step_accepts_once(self, store: CredentialStore) -> None:
        await store.put_totp("user:analyst", "JBSWY3DPEHPK3PXP", NOW)
        results = await asyncio.gather(*(store.accept_totp_step("user:analyst", 500, NOW) for _ in range(4)))
        assert results.count(True) == 1

    async def test_purge_removes_only_what_can_no_longer_be_presented(self, store: CredentialStore) -> None:
        _, live = session()
        await store.add_refresh(live)
        await store.revoke_access_token("jti-old", NOW - timedelta(minutes=1))
        await store.revoke_access_token("jti-live", NOW + timedelta(minutes=10))
        assert await store.purge_expired(NOW) >= 1
        assert await store.refresh_session(live.token_hash) is not None
        assert await store.access_token_revoked("jti-live") and not await store.access_token_revoked("jti-old")
        assert await store.purge_expired(NOW + timedelta(days=8)) >= 2
        assert await store.refresh_session(live.token_hash) is None

    async def test_api_keys(self, store: CredentialStore) -> None:
        await store.add_api_key(key_record("aaaaaaaaaa"))
        await store.add_api_key(key_record("bbbbbbbbbb", branches=frozenset({"TPE"}),
                                           allowed_ips=("192.0.2.7/32", "2001:db8::/32"),
                                           created_at=NOW + timedelta(seconds=1)))
        listed = await store.list_api_keys()
        assert [k.prefix for k in listed] == ["aaaaaaaaaa", "bbbbbbbbbb"]
        second = await store.api_key("bbbbbbbbbb")
        assert second is not None and second.branches == frozenset({"TPE"})
        assert second.allowed_ips == ("192.0.2.7/32", "2001:db8::/32")
        assert second.allows("192.0.2.7") and not second.allows("192.0.2.8") and second.allows("2001:db8::1")
        await store.touch_api_key("aaaaaaaaaa", NOW + timedelta(minutes=1))
        touched = await store.api_key("aaaaaaaaaa")
        assert touched is not None and touched.last_used_at == NOW + timedelta(minutes=1)
        assert await store.revoke_api_key("aaaaaaaaaa", NOW)
        assert not await store.revoke_api_key("aaaaaaaaaa", NOW)
        assert not await store.revoke_api_key("cccccccccc", NOW)
        assert await store.api_key("cccccccccc") is None


class TestMemoryStore(CredentialStoreContract):
    @pytest.fixture
    async def store(self) -> AsyncIterator[CredentialStore]:
        yield MemoryCredentialStore()


def test_api_keys_are_prefix_identifiable_and_parsed_strictly() -> None:
    raw, prefix = new_api_key()
    assert parse_api_key(raw) == prefix and len(prefix) == 10 and raw.startswith(f"lgk_{prefix}_")
    assert parse_api_key(new_api_key()[0]) != prefix
    for bad in ("", "lgk_", "lgk_short_x", f"lgr_{prefix}_{'a' * 43}", f"lgk_{prefix.upper()}_{'a' * 43}",
                f"lgk_{prefix}_{'a' * 10}", f"lgk_{prefix}_{'a' * 300}"):
        assert parse_api_key(bad) is None, bad


async def test_the_verifier_checks_secret_ip_expiry_and_revocation() -> None:
    store, clock = MemoryCredentialStore(), FixedClock(NOW)
    raw, prefix = new_api_key()
    await store.add_api_key(key_record(prefix, secret_hash=CHEAP.hash_now(raw)))
    verifier = ApiKeyVerifier(store, CHEAP, clock, cache_seconds=0)
    principal = await verifier.principal(raw, "10.20.30.40")
    assert principal is not None and principal.subject == f"key:{prefix}" and principal.kind == "api_key"
    assert principal.scopes == frozenset({"read:kpis"}) and principal.branches is None
    assert await verifier.principal(raw, "192.168.1.1") is None
    assert await verifier.principal(raw, "not an ip") is None
    assert await verifier.principal(raw[:-1] + ("A" if raw[-1] != "A" else "B"), "10.20.30.40") is None
    clock.advance(timedelta(days=30))
    assert await verifier.principal(raw, "10.20.30.40") is None
    clock.current = NOW
    await store.revoke_api_key(prefix, NOW)
    assert await verifier.principal(raw, "10.20.30.40") is None


async def test_a_verified_key_is_cached_for_the_configured_seconds_only() -> None:
    store, clock = MemoryCredentialStore(), FixedClock(NOW)
    raw, prefix = new_api_key()
    await store.add_api_key(key_record(prefix, secret_hash=CHEAP.hash_now(raw)))
    verifier = ApiKeyVerifier(store, CHEAP, clock, cache_seconds=2)
    assert await verifier.principal(raw, "10.0.0.1") is not None
    await store.revoke_api_key(prefix, NOW)
    assert await verifier.principal(raw, "10.0.0.1") is not None  # within the cache time
    clock.advance(timedelta(seconds=2))
    assert await verifier.principal(raw, "10.0.0.1") is None


async def test_the_hasher_answers_false_for_no_hash_and_for_garbage() -> None:
    hashed = await CHEAP.hash("pw")
    assert await CHEAP.verify(hashed, "pw") and not await CHEAP.verify(hashed, "other")
    assert not await CHEAP.verify(None, "pw") and not await CHEAP.verify("not-a-hash", "pw")
