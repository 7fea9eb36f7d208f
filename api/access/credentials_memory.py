"""The in-process `CredentialStore` for unit tests and demos (see `credentials.py` for the contract)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime

from api.access.credentials import (
    Account,
    ApiKeyRecord,
    ClientRecord,
    RefreshSession,
    RotateResult,
    TotpRecord,
)


@dataclass
class MemoryCredentialStore:
    """The in-process store for unit tests (one event loop; every method is atomic)."""

    accounts: dict[str, Account] = field(default_factory=dict)  # by login
    clients: dict[str, ClientRecord] = field(default_factory=dict)
    sessions: dict[str, RefreshSession] = field(default_factory=dict)
    revoked_jtis: dict[str, datetime] = field(default_factory=dict)
    totps: dict[str, TotpRecord] = field(default_factory=dict)
    keys: dict[str, ApiKeyRecord] = field(default_factory=dict)

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def add_account(self, account: Account) -> None:
        self.accounts[account.login] = account

    def add_client(self, client: ClientRecord) -> None:
        self.clients[client.client_id] = client

    async def find_account(self, login: str) -> Account | None:
        return self.accounts.get(login)

    async def account_by_subject(self, subject: str) -> Account | None:
        return next((a for a in self.accounts.values() if a.subject == subject), None)

    async def find_client(self, client_id: str) -> ClientRecord | None:
        return self.clients.get(client_id)

    async def add_refresh(self, session: RefreshSession) -> None:
        self.sessions[session.token_hash] = session

    async def refresh_session(self, token_hash: str) -> RefreshSession | None:
        return self.sessions.get(token_hash)

    async def rotate_refresh(self, token_hash: str, successor_hash: str, now: datetime,
                             expires_at: datetime) -> RotateResult:
        current = self.sessions.get(token_hash)
        if current is None:
            return RotateResult("unknown", None)
        if current.revoked_at is not None:
            return RotateResult("revoked", current)
        if current.used_at is not None:
            await self.revoke_family(current.family_id, now)
            return RotateResult("reused", current)
        if now >= current.expires_at:
            return RotateResult("expired", current)
        self.sessions[token_hash] = replace(current, used_at=now)
        self.sessions[successor_hash] = current.successor(successor_hash, now, expires_at)
        return RotateResult("rotated", current)

    async def revoke_family(self, family_id: str, now: datetime) -> int:
        members = [s for s in self.sessions.values() if s.family_id == family_id and s.revoked_at is None]
        for s in members:
            self.sessions[s.token_hash] = replace(s, revoked_at=now)
        return len(members)

    async def set_family_mfa(self, family_id: str, mfa_at: datetime) -> None:
        for s in [s for s in self.sessions.values() if s.family_id == family_id]:
            self.sessions[s.token_hash] = replace(s, mfa_at=mfa_at, amr=_with_otp(s.amr))

    async def revoke_access_token(self, jti: str, expires_at: datetime) -> None:
        self.revoked_jtis[jti] = expires_at

    async def access_token_revoked(self, jti: str) -> bool:
        return jti in self.revoked_jtis

    async def totp(self, subject: str) -> TotpRecord | None:
        return self.totps.get(subject)

    async def put_totp(self, subject: str, secret: str, now: datetime) -> None:
        self.totps[subject] = TotpRecord(subject, secret, now)

    async def accept_totp_step(self, subject: str, step: int, now: datetime) -> bool:
        record = self.totps.get(subject)
        if record is None or (record.last_step is not None and step <= record.last_step):
            return False
        self.totps[subject] = replace(record, last_step=step, confirmed_at=record.confirmed_at or now)
        return True

    async def add_api_key(self, record: ApiKeyRecord) -> None:
        if record.prefix in self.keys:
            raise ValueError(f"API key prefix {record.prefix} exists")
        self.keys[record.prefix] = record

    async def api_key(self, prefix: str) -> ApiKeyRecord | None:
        return self.keys.get(prefix)

    async def list_api_keys(self) -> list[ApiKeyRecord]:
        return sorted(self.keys.values(), key=lambda k: k.created_at)

    async def revoke_api_key(self, prefix: str, now: datetime) -> bool:
        record = self.keys.get(prefix)
        if record is None or record.revoked_at is not None:
            return False
        self.keys[prefix] = replace(record, revoked_at=now)
        return True

    async def touch_api_key(self, prefix: str, now: datetime) -> None:
        if prefix in self.keys:
            self.keys[prefix] = replace(self.keys[prefix], last_used_at=now)

    async def purge_expired(self, now: datetime) -> int:
        gone = [h for h, s in self.sessions.items() if s.family_expires_at < now]
        gone_jtis = [j for j, at in self.revoked_jtis.items() if at < now]
        for h in gone:
            del self.sessions[h]
        for j in gone_jtis:
            del self.revoked_jtis[j]
        return len(gone) + len(gone_jtis)


def _with_otp(amr: Iterable[str]) -> tuple[str, ...]:
    methods = tuple(amr)
    return methods if "otp" in methods else (*methods, "otp")
