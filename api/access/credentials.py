"""What the identity provider keeps: accounts, clients, refresh-token families, revoked tokens, TOTP secrets
and API keys; the `CredentialStore` contract, its in-memory implementation, and API-key principals.

Contract of every `CredentialStore` (`MemoryCredentialStore` in `credentials_memory.py`,
`PostgresCredentialStore` in `credentials_pg.py`; one contract test suite runs against both):
- secrets are never stored: passwords, client secrets and API keys as argon2id hashes (`SecretHasher`),
  refresh tokens as SHA-256 of 256 random bits (`token_digest`), TOTP secrets encrypted (PostgreSQL);
- `rotate_refresh` is atomic: of two concurrent rotations of one token at most one gets "rotated"; a token
  already rotated gives "reused" and revokes its whole family in the same step; a revoked one "revoked", an
  expired one "expired", an unknown one "unknown";
- `accept_totp_step` accepts a time step only if it is newer than the last one accepted (replay guard,
  atomic across processes) and confirms a pending enrolment;
- `revoke_api_key` returns False for an unknown or already revoked prefix.

API keys are `lgk_<prefix>_<secret>`: the 10-character prefix identifies the key (it is shown in lists and
audits, `key:<prefix>` is the principal's subject), the secret is 256 random bits; the whole key is shown
once at creation. `principal_from_api_key(raw, client_ip)` answers with the key's `Principal` when the key
exists, is not revoked, not expired, the caller's IP is in its allow-list and the secret verifies; None
otherwise (the caller answers 401). It uses the `verifier` passed, else the `ApiKeyVerifier` bound last with
`bind_api_key_verifier` (every open `Identity` binds its own; all of one deployment share one store).
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
import secrets
import string
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Literal, Protocol

import argon2
from argon2.exceptions import InvalidHashError, VerificationError

from infra.clock import Clock, SystemClock

if TYPE_CHECKING:
    from api.access.principal import Principal

log = logging.getLogger("luckygas.identity")

API_KEY_PREFIX_LEN = 10
_PREFIX_ALPHABET = string.ascii_lowercase + string.digits
RotateStatus = Literal["rotated", "reused", "revoked", "expired", "unknown"]


class SecretHasher:
    """argon2id hashing (RFC 9106 low-memory profile by default), run off the event loop."""

    def __init__(self, parameters: argon2.Parameters = argon2.profiles.RFC_9106_LOW_MEMORY) -> None:
        self._hasher = argon2.PasswordHasher.from_parameters(parameters)
        self._dummy: str | None = None

    def hash_now(self, secret: str) -> str:
        return self._hasher.hash(secret)

    async def hash(self, secret: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, secret)

    async def verify(self, hashed: str | None, secret: str) -> bool:
        """True when `secret` matches; with no hash, spends the same time and answers False (no timing
        difference between an unknown login and a wrong password)."""
        if hashed is None:
            self._dummy = self._dummy or self._hasher.hash(secrets.token_hex(8))
            hashed, secret = self._dummy, secret + "\x00"
        try:
            return await asyncio.to_thread(self._hasher.verify, hashed, secret)
        except (VerificationError, InvalidHashError):
            return False


def token_digest(token: str) -> str:
    """How a high-entropy bearer secret (refresh token) is stored and looked up."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_refresh_token() -> str:
    return "lgr_" + secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True)
class Account:
    """Someone who signs in with a password: an employee (`emp:<id>`) or a local account (`user:<name>`)."""

    subject: str
    login: str
    password_hash: str | None
    active: bool = True
    role: str | None = None  # local accounts only; employees' roles are looked up per request
    branches: frozenset[str] | None = None  # local accounts only; None = all branches
    employee_id: int | None = None


@dataclass(frozen=True, slots=True)
class ClientRecord:
    """An internal service that signs in with client credentials (`client:<id>`)."""

    client_id: str
    secret_hash: str
    role: str
    scopes: frozenset[str]
    branches: frozenset[str] | None = None
    active: bool = True


@dataclass(frozen=True, slots=True)
class RefreshSession:
    """One refresh token of a family (a sign-in session); rotated tokens stay, marked used."""

    token_hash: str
    family_id: str
    subject: str
    client_id: str
    scopes: frozenset[str]
    amr: tuple[str, ...]
    auth_time: datetime
    issued_at: datetime
    expires_at: datetime
    family_expires_at: datetime
    mfa_at: datetime | None = None
    used_at: datetime | None = None
    revoked_at: datetime | None = None

    def successor(self, token_hash: str, now: datetime, expires_at: datetime) -> RefreshSession:
        return replace(self, token_hash=token_hash, issued_at=now, expires_at=min(expires_at, self.family_expires_at),
                       used_at=None, revoked_at=None)


@dataclass(frozen=True, slots=True)
class RotateResult:
    status: RotateStatus
    session: RefreshSession | None  # the presented token's record (None when unknown)


@dataclass(frozen=True, slots=True)
class TotpRecord:
    subject: str
    secret: str  # base32, decrypted
    created_at: datetime
    confirmed_at: datetime | None = None
    last_step: int | None = None


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    prefix: str
    secret_hash: str
    name: str
    role: str
    scopes: frozenset[str]
    branches: frozenset[str] | None
    allowed_ips: tuple[str, ...]  # CIDR networks
    created_by: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None

    def allows(self, client_ip: str) -> bool:
        try:
            address = ipaddress.ip_address(client_ip)
        except ValueError:
            return False
        return any(address in ipaddress.ip_network(net, strict=False) for net in self.allowed_ips)


def new_api_key() -> tuple[str, str]:
    """A fresh key and its prefix: (`lgk_<prefix>_<secret>`, prefix)."""
    prefix = "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(API_KEY_PREFIX_LEN))
    return f"lgk_{prefix}_{secrets.token_urlsafe(32)}", prefix


def parse_api_key(raw: str) -> str | None:
    """The prefix of something shaped like one of our keys, else None."""
    parts = raw.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != "lgk" or len(parts[1]) != API_KEY_PREFIX_LEN or len(parts[2]) < 32:
        return None
    if any(c not in _PREFIX_ALPHABET for c in parts[1]) or len(raw) > 200:
        return None
    return parts[1]


class CredentialStore(Protocol):
    """See the module contract."""

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def find_account(self, login: str) -> Account | None: ...
    async def account_by_subject(self, subject: str) -> Account | None: ...
    async def find_client(self, client_id: str) -> ClientRecord | None: ...
    async def add_refresh(self, session: RefreshSession) -> None: ...
    async def rotate_refresh(self, token_hash: str, successor_hash: str, now: datetime,
                             expires_at: datetime) -> RotateResult: ...
    async def refresh_session(self, token_hash: str) -> RefreshSession | None: ...
    async def revoke_family(self, family_id: str, now: datetime) -> int: ...
    async def set_family_mfa(self, family_id: str, mfa_at: datetime) -> None: ...
    async def revoke_access_token(self, jti: str, expires_at: datetime) -> None: ...
    async def access_token_revoked(self, jti: str) -> bool: ...
    async def totp(self, subject: str) -> TotpRecord | None: ...
    async def put_totp(self, subject: str, secret: str, now: datetime) -> None: ...
    async def accept_totp_step(self, subject: str, step: int, now: datetime) -> bool: ...
    async def add_api_key(self, record: ApiKeyRecord) -> None: ...
    async def api_key(self, prefix: str) -> ApiKeyRecord | None: ...
    async def list_api_keys(self) -> list[ApiKeyRecord]: ...
    async def revoke_api_key(self, prefix: str, now: datetime) -> bool: ...
    async def touch_api_key(self, prefix: str, now: datetime) -> None: ...
    async def purge_expired(self, now: datetime) -> int: ...


def new_family_id() -> str:
    return uuid.uuid4().hex


class ApiKeyVerifier:
    """Checks `X-API-Key` values against a store; a verified key is cached `cache_seconds` (argon2 is slow
    on purpose), so a revocation takes effect within that time in every process."""

    def __init__(self, store: CredentialStore, hasher: SecretHasher, clock: Clock | None = None,
                 cache_seconds: float = 2.0) -> None:
        self.store, self.hasher, self.clock, self.cache_seconds = store, hasher, clock or SystemClock(), cache_seconds
        self._verified: dict[str, tuple[float, ApiKeyRecord]] = {}

    async def record_for(self, raw: str) -> ApiKeyRecord | None:
        """The key's record when the secret verifies (revocation, expiry, IP not checked here)."""
        prefix = parse_api_key(raw)
        if prefix is None:
            return None
        digest, now = token_digest(raw), self.clock.now().timestamp()
        cached = self._verified.get(digest)
        if cached is not None and 0 <= now - cached[0] < self.cache_seconds:
            return cached[1]
        record = await self.store.api_key(prefix)
        if not await self.hasher.verify(record.secret_hash if record else None, raw) or record is None:
            return None
        self._verified[digest] = (now, record)
        if len(self._verified) > 10_000:
            self._verified.clear()
        await self.store.touch_api_key(prefix, self.clock.now())
        return record

    async def principal(self, raw: str, client_ip: str) -> Principal | None:
        record = await self.record_for(raw)
        if record is None:
            return None
        reason = _refusal(record, client_ip, self.clock.now())
        if reason is not None:
            log.warning("API key %s refused: %s (client %s)", record.prefix, reason, client_ip)
            return None
        from api.access.principal import Principal

        return Principal(subject=f"key:{record.prefix}", kind="api_key", role=record.role, branches=record.branches,
                         scopes=record.scopes, auth_time=None, mfa_at=None)


def _refusal(record: ApiKeyRecord, client_ip: str, now: datetime) -> str | None:
    if record.revoked_at is not None:
        return "revoked"
    if now >= record.expires_at:
        return "expired"
    if not record.allows(client_ip):
        return "client IP not in the key's allow-list"
    return None


_BOUND: list[ApiKeyVerifier] = []  # verifiers of the identity providers open in this process, newest last


def bind_api_key_verifier(verifier: ApiKeyVerifier) -> None:
    """Make `principal_from_api_key` use this verifier (the identity provider does it in `open()`)."""
    _BOUND.append(verifier)


def unbind_api_key_verifier(verifier: ApiKeyVerifier) -> None:
    """Forget a verifier (the identity provider's `close()`); the one bound before it, if any, applies again."""
    if verifier in _BOUND:
        _BOUND.remove(verifier)


async def principal_from_api_key(raw: str, client_ip: str, verifier: ApiKeyVerifier | None = None) -> Principal | None:
    """The principal of a valid API key sent from an allowed IP, else None (see the module contract)."""
    chosen = verifier or (_BOUND[-1] if _BOUND else None)
    if chosen is None:
        log.error("an API key was presented but no API-key verifier is bound (identity provider not started)")
        return None
    return await chosen.principal(raw, client_ip)
