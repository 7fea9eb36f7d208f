"""The identity provider's flows: sign-in (password, client credentials), refresh rotation with reuse
detection, revocation, TOTP, API keys. Routes (`api/routes/oauth.py`, `mfa.py`, `keys.py`) are thin over it.

Contract:
- Every refusal is an `OAuthError` carrying the HTTP status, the OAuth `error` code, a message safe to show
  and what to audit; nothing here answers 500 for bad input. A wrong password or unknown login is 401
  `invalid_grant` (the same answer, the same argon2 time) and counts towards the login's lockout; a locked
  login is 401 with `Retry-After` even with the right password.
- A password sign-in opens a session: a family of refresh tokens. Refreshing rotates the token (the old one
  is spent); presenting a spent token again is reuse: the whole family is revoked and the caller gets 401.
- Revoking (logout) a refresh token, or an access token with a session id, revokes the session's family;
  an access token's `jti` is also listed as revoked until it expires.
- TOTP: `enrol_totp` stores a new secret (pending) and returns its otpauth URI once; 409 when a confirmed
  secret exists. `verify_totp` accepts the current code (±1 step of 30 s), never a step at or before the
  last accepted one (replay), confirms the enrolment, and issues a new access token with amr ["pwd","otp"]
  and `mfa_at`; the session's later refreshes carry both.
- Wiring: `Identity.build(settings, dsn, key_dir, jwks_file, clock)`; `open()` at startup (creates the `auth` schema,
  binds the API-key verifier for `principal_from_api_key`), `close()` at shutdown; the app keeps it on
  `app.state.identity` (`get_identity`).
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from fastapi import HTTPException, Request
from redis.asyncio import Redis

from api.access.credentials import (
    ApiKeyRecord,
    ApiKeyVerifier,
    CredentialStore,
    RefreshSession,
    SecretHasher,
    bind_api_key_verifier,
    new_api_key,
    new_family_id,
    new_refresh_token,
    token_digest,
    unbind_api_key_verifier,
)
from api.access.issuer import IssuedToken, KeyRing, TokenIssuer, TokenRequest
from api.access.limits import LimiterUnavailable, Lockout, RateLimiter
from api.access.totp import TotpFlows
from infra.access_settings import IdentitySettings
from infra.clock import Clock, SystemClock

log = logging.getLogger("luckygas.identity")


class OAuthError(Exception):
    """A refusal: `status`, OAuth `error`, `description` (safe to show), what to audit (`audit_kind`)."""

    def __init__(self, status: int, error: str, description: str, *, audit_kind: str | None = None,
                 subject: str | None = None, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description
        self.audit_kind, self.subject, self.retry_after = audit_kind, subject, retry_after


@dataclass(frozen=True, slots=True)
class Grant:
    """A token response (RFC 6749 §5.1) and who it is for."""

    access: IssuedToken
    refresh_token: str | None
    subject: str
    session_id: str | None

    def body(self) -> dict[str, object]:
        body: dict[str, object] = {"access_token": self.access.token, "token_type": "Bearer",
                                   "expires_in": self.access.expires_in, "scope": self.access.claims["scope"]}
        if self.refresh_token is not None:
            body["refresh_token"] = self.refresh_token
        return body


def _unavailable(error: Exception) -> OAuthError:
    log.error("identity storage unavailable: %s", error)
    return OAuthError(503, "temporarily_unavailable", "sign-in is unavailable right now; try again shortly")


def scopes_within(requested: str | None, allowed: Iterable[str]) -> frozenset[str]:
    """The requested scopes (all allowed ones when none are asked for); 400 invalid_scope beyond `allowed`."""
    allowed_set = frozenset(allowed)
    if not requested or not requested.strip():
        return allowed_set
    asked = frozenset(requested.split())
    if not asked <= allowed_set:
        raise OAuthError(400, "invalid_scope", f"scope not allowed: {' '.join(sorted(asked - allowed_set))}")
    return asked


class Identity:
    """The identity provider (see the module contract)."""

    def __init__(self, settings: IdentitySettings, store: CredentialStore, issuer: TokenIssuer, limiter: RateLimiter,
                 lockout: Lockout, hasher: SecretHasher, clock: Clock) -> None:
        self.settings, self.store, self.issuer, self.clock = settings, store, issuer, clock
        self.limiter, self.lockout, self.hasher = limiter, lockout, hasher
        self.api_keys = ApiKeyVerifier(store, hasher, clock, settings.api_key_cache_seconds)
        self.totp = TotpFlows(self)
        self._redis: Redis[Any] | None = None

    @classmethod
    def build(cls, settings: IdentitySettings, dsn: str, key_dir: Path, jwks_file: Path | None = None,
              clock: Clock | None = None, *, schema: str = "auth", hasher: SecretHasher | None = None) -> Identity:
        """The stack's identity provider: keys from `key_dir` (public JWKS written to `jwks_file`), PostgreSQL
        at `dsn` (schema `schema`), Redis at `settings.redis_url`. Reads (or creates) the key files; no
        connection is opened until `open()`."""
        from api.access.credentials_pg import PostgresCredentialStore, SecretBox

        clock = clock or SystemClock()
        store = PostgresCredentialStore(dsn, SecretBox.from_key_dir(key_dir), schema=schema)
        ring = KeyRing.load_or_create(key_dir, settings.published_keys)
        if jwks_file is not None:
            ring.write_jwks(jwks_file)
        redis: Redis[Any] = Redis.from_url(settings.redis_url)
        identity = cls(settings, store, TokenIssuer(settings, ring, clock), RateLimiter(settings),
                       Lockout(settings, redis), hasher or SecretHasher(), clock)
        identity._redis = redis
        return identity

    async def open(self) -> None:
        await self.store.open()
        removed = await self.store.purge_expired(self.clock.now())
        if removed:
            log.info("purged %d expired refresh tokens and revocation entries", removed)
        bind_api_key_verifier(self.api_keys)

    async def close(self) -> None:
        unbind_api_key_verifier(self.api_keys)
        await self.store.close()
        await self.limiter.close()
        if self._redis is not None:
            await self._redis.aclose()  # type: ignore[attr-defined]  # types-redis 4.6 predates aclose

    # ---- sign-in

    async def _guard(self, client_ip: str, login: str) -> None:
        """The token endpoint's rate limits and the login's lock (both fail closed)."""
        try:
            decision = await self.limiter.check_token_request(client_ip, login)
            locked = await self.lockout.locked_for(login) if decision.allowed else 0
        except LimiterUnavailable as error:
            raise _unavailable(error) from error
        if not decision.allowed:
            raise OAuthError(429, "slow_down", f"too many sign-in attempts; retry after {decision.retry_after} s",
                             retry_after=decision.retry_after)
        if locked:
            raise OAuthError(401, "invalid_grant", f"account locked after repeated failed sign-ins; try again in "
                             f"{-(-locked // 60)} min", audit_kind="sign_in_failed", subject=f"login:{login}",
                             retry_after=locked)

    async def _failed(self, login: str, error: str, what: str) -> OAuthError:
        try:
            state = await self.lockout.record_failure(login)
        except LimiterUnavailable as failure:
            return _unavailable(failure)
        if state.locked_for:
            return OAuthError(401, error, f"{what}; account locked for {self.settings.lockout_minutes} min after "
                              f"{self.settings.lockout_threshold} failed sign-ins", audit_kind="sign_in_failed",
                              subject=f"login:{login}", retry_after=state.locked_for)
        return OAuthError(401, error, what, audit_kind="sign_in_failed", subject=f"login:{login}")

    async def _clear(self, login: str) -> None:
        try:
            await self.lockout.clear(login)
        except LimiterUnavailable as error:
            raise _unavailable(error) from error

    async def password_grant(self, login: str, password: str, scope: str | None, client_id: str | None,
                             client_ip: str) -> Grant:
        if client_id not in (None, "", self.settings.web_client_id):
            raise OAuthError(401, "invalid_client", "unknown client")
        await self._guard(client_ip, login)
        account = await self.store.find_account(login)
        ok = await self.hasher.verify(account.password_hash if account else None, password)
        if account is None or not ok or not account.active:
            raise await self._failed(login, "invalid_grant", "wrong employee number / user name or password")
        await self._clear(login)
        scopes = scopes_within(scope, self.settings.person_scopes)
        now = self.clock.now()
        session = RefreshSession(
            token_hash="", family_id=new_family_id(), subject=account.subject, client_id=self.settings.web_client_id,
            scopes=scopes, amr=("pwd",), auth_time=now, issued_at=now,
            expires_at=now + timedelta(hours=self.settings.refresh_token_hours),
            family_expires_at=now + timedelta(hours=self.settings.session_max_hours))
        refresh = new_refresh_token()
        session = replace(session, token_hash=token_digest(refresh))
        await self.store.add_refresh(session)
        return Grant(self.issuer.issue(await self._token_request(session)), refresh, account.subject,
                     session.family_id)

    async def _token_request(self, session: RefreshSession) -> TokenRequest:
        role, branches = None, None
        if session.subject.startswith("user:"):
            account = await self.store.account_by_subject(session.subject)
            role, branches = (account.role, account.branches) if account else (None, None)
        return TokenRequest(subject=session.subject, scopes=session.scopes, amr=session.amr,
                            auth_time=session.auth_time, mfa_at=session.mfa_at, role=role, branches=branches,
                            session_id=session.family_id, client_id=session.client_id)

    async def client_credentials(self, client_id: str, secret: str, scope: str | None, client_ip: str) -> Grant:
        login = f"client:{client_id}"
        await self._guard(client_ip, login)
        client = await self.store.find_client(client_id)
        ok = await self.hasher.verify(client.secret_hash if client else None, secret)
        if client is None or not ok or not client.active:
            raise await self._failed(login, "invalid_client", "unknown client or wrong client secret")
        await self._clear(login)
        scopes = scopes_within(scope, client.scopes)
        request = TokenRequest(subject=login, scopes=scopes, role=client.role, branches=client.branches,
                               client_id=client_id)
        return Grant(self.issuer.issue(request), None, login, None)

    # ---- sessions

    async def refresh(self, refresh_token: str, client_id: str | None) -> Grant:
        now = self.clock.now()
        new_token = new_refresh_token()
        result = await self.store.rotate_refresh(token_digest(refresh_token), token_digest(new_token), now,
                                                 now + timedelta(hours=self.settings.refresh_token_hours))
        session = result.session
        if result.status == "reused" and session is not None:
            raise OAuthError(401, "invalid_grant", "refresh token already used: the session is revoked; sign in again",
                             audit_kind="token_reuse", subject=session.subject)
        if result.status != "rotated" or session is None:
            raise OAuthError(401, "invalid_grant", f"refresh token {result.status}; sign in again")
        if client_id and client_id != session.client_id:
            await self.store.revoke_family(session.family_id, now)
            raise OAuthError(401, "invalid_grant", "refresh token was issued to another client")
        account = await self.store.account_by_subject(session.subject)
        if account is None or not account.active:
            await self.store.revoke_family(session.family_id, now)
            raise OAuthError(401, "invalid_grant", "the account can no longer sign in", subject=session.subject)
        current = await self.store.refresh_session(token_digest(new_token)) or session
        return Grant(self.issuer.issue(await self._token_request(current)), new_token, session.subject,
                     session.family_id)

    async def revoke(self, token: str) -> str | None:
        """RFC 7009: revoke a refresh or access token; the subject it belonged to (None: not one of ours)."""
        now = self.clock.now()
        if token.startswith("lgr_"):
            session = await self.store.refresh_session(token_digest(token))
            if session is None:
                return None
            await self.store.revoke_family(session.family_id, now)
            return session.subject
        try:
            claims = self.issuer.decode(token, verify_exp=False)
        except (jwt.PyJWTError, ValueError, TypeError):
            return None
        await self.store.revoke_access_token(str(claims["jti"]), datetime.fromtimestamp(int(claims["exp"]), now.tzinfo))
        if claims.get("sid"):
            await self.store.revoke_family(str(claims["sid"]), now)
        return str(claims["sub"])

    async def access_token_revoked(self, jti: str) -> bool:
        return await self.store.access_token_revoked(jti)

    # ---- API keys

    async def create_api_key(self, created_by: str, name: str, scopes: frozenset[str],
                             branches: frozenset[str] | None, allowed_ips: list[str],
                             days: int | None) -> tuple[str, ApiKeyRecord]:
        """A new key (shown once) and its stored record; ValueError naming a bad network or lifetime."""
        networks = tuple(str(ipaddress.ip_network(net.strip(), strict=False)) for net in allowed_ips)
        if not networks:
            raise ValueError("allowed_ips must name at least one network (e.g. 203.0.113.7/32)")
        lifetime = days or self.settings.api_key_default_days
        if not 1 <= lifetime <= self.settings.api_key_max_days:
            raise ValueError(f"expires_in_days must be between 1 and {self.settings.api_key_max_days}")
        raw, prefix = new_api_key()
        now = self.clock.now()
        record = ApiKeyRecord(prefix=prefix, secret_hash=await self.hasher.hash(raw), name=name,
                              role=self.settings.api_key_role, scopes=scopes, branches=branches,
                              allowed_ips=networks, created_by=created_by, created_at=now,
                              expires_at=now + timedelta(days=lifetime))
        await self.store.add_api_key(record)
        return raw, record


def get_identity(request: Request) -> Identity:
    """The app's identity provider (`app.state.identity`); 503 when the app was built without one."""
    identity: Identity | None = getattr(request.app.state, "identity", None)
    if identity is None:
        raise HTTPException(503, "the identity provider is not configured")
    return identity


def client_ip(request: Request, trusted_proxies: Iterable[str]) -> str:
    """The caller's IP: the peer, or the last untrusted hop of X-Forwarded-For when the peer is a trusted proxy."""
    peer = request.client.host if request.client else "0.0.0.0"
    networks = [ipaddress.ip_network(p, strict=False) for p in trusted_proxies]

    def trusted(ip: str) -> bool:
        try:
            return any(ipaddress.ip_address(ip) in n for n in networks)
        except ValueError:
            return False

    if not networks or not trusted(peer):
        return peer
    hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not trusted(hop):
            return hop
    return peer


async def audit(request: Request, kind: str, *, principal: str | None, status: int, detail: str | None = None,
                parameters: dict[str, object] | None = None, required: bool = True) -> None:
    """Append an identity event to `app.state.audit`. When the trail cannot take it: `required` events (a
    sign-in that succeeded, a key created) are refused with 503 as OAuthError; others are only logged."""
    from api.access.audit import AuditEvent, AuditUnavailable

    log_ = getattr(request.app.state, "audit", None)
    if log_ is None:
        log.warning("no audit log configured; identity event %s for %s not recorded", kind, principal)
        return
    identity = getattr(request.app.state, "identity", None)
    clock: Clock = identity.clock if identity is not None else SystemClock()
    event = AuditEvent(at=clock.now(), kind=kind, principal=principal, route=request.url.path,
                       parameters=parameters or {}, status=status, detail=detail)
    try:
        await log_.append(event)
    except AuditUnavailable as error:
        log.error("audit trail unavailable for identity event %s: %s", kind, error)
        if required:
            raise OAuthError(503, "temporarily_unavailable", "the audit trail cannot record this now; "
                             "try again shortly") from error
