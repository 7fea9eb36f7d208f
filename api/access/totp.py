"""TOTP (RFC 6238, pyotp) enrolment and verification for people, with a replay guard.

Contract (`Identity.totp`):
- `enrol(subject)` stores a new random secret as pending and returns the otpauth URI (shown once); an
  `OAuthError` 409 when the subject already has a confirmed secret, 403 for a subject that is not a person.
- `verify(subject, code, claims)` accepts a 6-digit code of the current 30-second step or one step either
  side; a step at or before the last accepted one is refused as a replay (the store keeps the last step,
  atomically, so two processes cannot both accept it). Wrong codes count towards a lockout of the
  subject's MFA (the sign-in threshold and duration). Success confirms a pending enrolment, marks the
  session (`sid` of `claims`) as MFA-verified for its later refreshes, and returns a new access token with
  amr ["pwd","otp"], `mfa_at` now and the original `auth_time`.
"""

from __future__ import annotations

import contextlib
import hmac
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyotp

from api.access.issuer import IssuedToken, TokenRequest
from api.access.limits import LimiterUnavailable

if TYPE_CHECKING:
    from api.access.identity import Identity

PERSON_PREFIXES = ("emp:", "user:")
STEP_WINDOW = (0, -1, 1)


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step within ±1 of now whose code is `code`, compared in constant time; None if none."""
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for offset in STEP_WINDOW:
        if hmac.compare_digest(totp.generate_otp(current + offset), code):
            return current + offset
    return None


class TotpFlows:
    def __init__(self, identity: Identity) -> None:
        self.identity = identity

    async def enrol(self, subject: str) -> str:
        from api.access.identity import OAuthError

        if not subject.startswith(PERSON_PREFIXES):
            raise OAuthError(403, "access_denied", "only people enrol an authenticator app")
        store = self.identity.store
        existing = await store.totp(subject)
        if existing is not None and existing.confirmed_at is not None:
            raise OAuthError(409, "already_enrolled", "an authenticator is already enrolled for this account")
        account = await store.account_by_subject(subject)
        secret = pyotp.random_base32()
        await store.put_totp(subject, secret, self.identity.clock.now())
        name = account.login if account is not None else subject
        return pyotp.TOTP(secret).provisioning_uri(name=name, issuer_name=self.identity.settings.totp_issuer)

    async def verify(self, subject: str, code: str, claims: dict[str, Any]) -> IssuedToken:
        from api.access.identity import OAuthError

        identity, lock_key = self.identity, f"mfa:{subject}"
        code = code.strip().replace(" ", "")
        if len(code) != 6 or not code.isdigit():
            raise OAuthError(400, "invalid_request", "the code is the 6 digits the authenticator app shows")
        try:
            locked = await identity.lockout.locked_for(lock_key)
        except LimiterUnavailable as error:
            raise OAuthError(503, "temporarily_unavailable", "MFA is unavailable right now") from error
        if locked:
            raise OAuthError(401, "invalid_grant", f"MFA locked after repeated wrong codes; try again in "
                             f"{-(-locked // 60)} min", audit_kind="mfa_verify", subject=subject, retry_after=locked)
        record = await identity.store.totp(subject)
        if record is None:
            raise OAuthError(409, "not_enrolled", "no authenticator enrolled: POST /mfa/totp/enrol first")
        now = identity.clock.now()
        step = matching_step(record.secret, code, now)
        if step is None or not await identity.store.accept_totp_step(subject, step, now):
            why = "wrong code" if step is None else "code already used (replay refused)"
            try:
                state = await identity.lockout.record_failure(lock_key)
            except LimiterUnavailable as error:
                raise OAuthError(503, "temporarily_unavailable", "MFA is unavailable right now") from error
            raise OAuthError(401, "invalid_grant", why, audit_kind="mfa_verify", subject=subject,
                             retry_after=state.locked_for or None)
        with contextlib.suppress(LimiterUnavailable):  # the code was right; stale failures expire later
            await identity.lockout.clear(lock_key)
        return await self._token(subject, claims, now)

    async def _token(self, subject: str, claims: dict[str, Any], now: datetime) -> IssuedToken:
        identity = self.identity
        session_id = claims.get("sid")
        if session_id:
            await identity.store.set_family_mfa(str(session_id), now)
        account = await identity.store.account_by_subject(subject)
        local = account is not None and subject.startswith("user:")
        auth_time = claims.get("auth_time")
        request = TokenRequest(
            subject=subject, scopes=frozenset(str(claims.get("scope", "")).split()), amr=("pwd", "otp"),
            auth_time=datetime.fromtimestamp(int(auth_time), now.tzinfo) if auth_time else now, mfa_at=now,
            role=account.role if local and account else None, branches=account.branches if local and account else None,
            session_id=str(session_id) if session_id else None, client_id=claims.get("client_id"))
        return identity.issuer.issue(request)
