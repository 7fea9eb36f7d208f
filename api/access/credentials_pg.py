"""`CredentialStore` in the operational PostgreSQL database, schema `auth` (see `credentials.py` for the contract).

The schema is created by `open()` (idempotent, serialised by an advisory transaction lock). It is not
captured by Debezium: the connector's publication lists exactly `infra.postgres.tables.CAPTURED_TABLES`.
Employees sign in with their `w110.employee_master.employee_no`; their password hash lives in
`auth.employee_credential` and a terminated employee cannot sign in. Local accounts without an employee row
(the analyst and auditor of the local stack) are `auth.local_user`. TOTP secrets are stored encrypted with
AES-256-GCM (`SecretBox`, a key file generated once beside the signing keys; the subject is the associated
data, so a ciphertext moved to another account does not decrypt).
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from api.access.credentials import (
    Account,
    ApiKeyRecord,
    ClientRecord,
    RefreshSession,
    RotateResult,
    TotpRecord,
)

DEFAULT_SCHEMA = "auth"
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
SCHEMA_LOCK = 0x6C67_6175_7468  # "lgauth": serialises the DDL of concurrent first starts

DDL = """
CREATE TABLE IF NOT EXISTS auth.employee_credential (
    employee_id   integer PRIMARY KEY,          -- w110.employee_master.employee_id
    password_hash text NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS auth.local_user (
    username      text PRIMARY KEY CHECK (username ~ '^[a-z][a-z0-9._-]{2,63}$'),
    password_hash text NOT NULL,
    role          text NOT NULL,
    branches      text[],                       -- NULL: all branches
    active        boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS auth.client (
    client_id     text PRIMARY KEY,
    secret_hash   text NOT NULL,
    role          text NOT NULL,
    scopes        text[] NOT NULL,
    branches      text[],
    active        boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS auth.refresh_token (
    token_hash        text PRIMARY KEY,         -- sha256 of the token
    family_id         text NOT NULL,
    subject           text NOT NULL,
    client_id         text NOT NULL,
    scopes            text[] NOT NULL,
    amr               text[] NOT NULL,
    auth_time         timestamptz NOT NULL,
    mfa_at            timestamptz,
    issued_at         timestamptz NOT NULL,
    expires_at        timestamptz NOT NULL,
    family_expires_at timestamptz NOT NULL,
    used_at           timestamptz,
    revoked_at        timestamptz
);
CREATE INDEX IF NOT EXISTS refresh_token_family_idx ON auth.refresh_token (family_id);
CREATE TABLE IF NOT EXISTS auth.revoked_access_token (
    jti        text PRIMARY KEY,
    expires_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS auth.totp (
    subject           text PRIMARY KEY,
    secret_ciphertext bytea NOT NULL,
    created_at        timestamptz NOT NULL,
    confirmed_at      timestamptz,
    last_step         bigint
);
CREATE TABLE IF NOT EXISTS auth.api_key (
    prefix       text PRIMARY KEY,
    secret_hash  text NOT NULL,
    name         text NOT NULL,
    role         text NOT NULL,
    scopes       text[] NOT NULL,
    branches     text[],
    allowed_ips  cidr[] NOT NULL,
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    last_used_at timestamptz
);
"""

_FIND_EMPLOYEE = """
SELECT e.employee_id, e.employee_no, e.status, c.password_hash
FROM w110.employee_master e LEFT JOIN auth.employee_credential c USING (employee_id)
WHERE e.employee_no = %s
"""
_EMPLOYEE_BY_ID = _FIND_EMPLOYEE.replace("e.employee_no = %s", "e.employee_id = %s")
_SESSION_COLUMNS = ("token_hash, family_id, subject, client_id, scopes, amr, auth_time, mfa_at, issued_at, "
                    "expires_at, family_expires_at, used_at, revoked_at")
_PLACEHOLDERS = ", ".join(["%s"] * 13)
_KEY_COLUMNS = ("prefix, secret_hash, name, role, scopes, branches, allowed_ips::text[] AS allowed_ips, created_by, "
                "created_at, expires_at, revoked_at, last_used_at")


class SecretBox:
    """AES-256-GCM with a key file created once (0600); encrypt/decrypt bind the ciphertext to `context`."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    @classmethod
    def from_key_dir(cls, key_dir: Path) -> SecretBox:
        path = key_dir / "totp-secrets.key"
        key_dir.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(fd, AESGCM.generate_key(bit_length=256))
            finally:
                os.close(fd)
        return cls(path.read_bytes())

    def encrypt(self, plaintext: str, context: str) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, plaintext.encode(), context.encode())

    def decrypt(self, ciphertext: bytes, context: str) -> str:
        return self._aead.decrypt(ciphertext[:12], ciphertext[12:], context.encode()).decode()


def _frozen(values: list[str] | None) -> frozenset[str] | None:
    return None if values is None else frozenset(values)


def _session(row: dict[str, Any]) -> RefreshSession:
    return RefreshSession(**{**row, "scopes": frozenset(row["scopes"]), "amr": tuple(row["amr"])})


def _key(row: dict[str, Any]) -> ApiKeyRecord:
    return ApiKeyRecord(**{**row, "scopes": frozenset(row["scopes"]), "branches": _frozen(row["branches"]),
                           "allowed_ips": tuple(row["allowed_ips"])})


def _employee(row: dict[str, Any]) -> Account:
    return Account(subject=f"emp:{row['employee_id']}", login=row["employee_no"], password_hash=row["password_hash"],
                   active=row["status"] != "terminated", employee_id=row["employee_id"])


def _local(row: dict[str, Any]) -> Account:
    return Account(subject=f"user:{row['username']}", login=row["username"], password_hash=row["password_hash"],
                   active=row["active"], role=row["role"], branches=_frozen(row["branches"]))


class PostgresCredentialStore:
    """A `CredentialStore` on a small connection pool; `open()` before use, `close()` at shutdown."""

    def __init__(self, dsn: str, box: SecretBox | None, max_connections: int = 4, schema: str = DEFAULT_SCHEMA) -> None:
        if not _SCHEMA_NAME.match(schema):
            raise ValueError(f"{schema!r} is not a schema name ([a-z_][a-z0-9_]*)")
        self._box = box
        self.schema = schema
        self.pool: AsyncConnectionPool[AsyncConnection[dict[str, Any]]] = AsyncConnectionPool(
            dsn, min_size=1, max_size=max_connections, open=False,
            kwargs={"autocommit": True, "row_factory": dict_row}, connection_class=AsyncConnection[dict[str, Any]],
            # A pooled connection does not survive a database restart: check it when lent (one round trip).
            check=AsyncConnectionPool.check_connection)

    @property
    def box(self) -> SecretBox:
        if self._box is None:
            raise RuntimeError("this store was opened without a TOTP key (provisioning only)")
        return self._box

    async def open(self) -> None:
        await self.pool.open(wait=True, timeout=30)
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            await conn.execute(self._q(f"CREATE SCHEMA IF NOT EXISTS {self.schema};" + DDL))

    async def close(self) -> None:
        await self.pool.close()

    def _q(self, query: str) -> Any:
        """`query` on this store's schema (the SQL here names it `auth.`; the name is validated)."""
        return query.replace("auth.", f"{self.schema}.")

    async def _one(self, query: str, params: tuple[Any, ...]) -> dict[str, Any] | None:
        async with self.pool.connection() as conn:
            cur = await conn.execute(self._q(query), params)
            return await cur.fetchone()

    async def _run(self, query: str, params: tuple[Any, ...]) -> int:
        async with self.pool.connection() as conn:
            cur = await conn.execute(self._q(query), params)
            return cur.rowcount

    async def find_account(self, login: str) -> Account | None:
        row = await self._one(_FIND_EMPLOYEE, (login,))
        if row is not None:
            return _employee(row)
        row = await self._one("SELECT * FROM auth.local_user WHERE username = %s", (login,))
        return None if row is None else _local(row)

    async def account_by_subject(self, subject: str) -> Account | None:
        kind, _, ident = subject.partition(":")
        if kind == "emp" and ident.isdigit():
            row = await self._one(_EMPLOYEE_BY_ID, (int(ident),))
            return None if row is None else _employee(row)
        if kind == "user":
            row = await self._one("SELECT * FROM auth.local_user WHERE username = %s", (ident,))
            return None if row is None else _local(row)
        return None

    async def find_client(self, client_id: str) -> ClientRecord | None:
        row = await self._one("SELECT client_id, secret_hash, role, scopes, branches, active FROM auth.client "
                              "WHERE client_id = %s", (client_id,))
        if row is None:
            return None
        return ClientRecord(**{**row, "scopes": frozenset(row["scopes"]), "branches": _frozen(row["branches"])})

    async def add_refresh(self, session: RefreshSession) -> None:
        await self._run(f"INSERT INTO auth.refresh_token ({_SESSION_COLUMNS}) VALUES ({_PLACEHOLDERS})",
                        _session_values(session))

    async def refresh_session(self, token_hash: str) -> RefreshSession | None:
        row = await self._one(f"SELECT {_SESSION_COLUMNS} FROM auth.refresh_token WHERE token_hash = %s",
                              (token_hash,))
        return None if row is None else _session(row)

    async def rotate_refresh(self, token_hash: str, successor_hash: str, now: datetime,
                             expires_at: datetime) -> RotateResult:
        q = self._q
        async with self.pool.connection() as conn, conn.transaction():
            cur = await conn.execute(q(f"SELECT {_SESSION_COLUMNS} FROM auth.refresh_token WHERE token_hash = %s "
                                       "FOR UPDATE"), (token_hash,))
            row = await cur.fetchone()
            if row is None:
                return RotateResult("unknown", None)
            current = _session(row)
            if current.revoked_at is not None:
                return RotateResult("revoked", current)
            if current.used_at is not None:
                await conn.execute(q("UPDATE auth.refresh_token SET revoked_at = %s WHERE family_id = %s "
                                     "AND revoked_at IS NULL"), (now, current.family_id))
                return RotateResult("reused", current)
            if now >= current.expires_at:
                return RotateResult("expired", current)
            await conn.execute(q("UPDATE auth.refresh_token SET used_at = %s WHERE token_hash = %s"), (now, token_hash))
            await conn.execute(q(f"INSERT INTO auth.refresh_token ({_SESSION_COLUMNS}) VALUES ({_PLACEHOLDERS})"),
                               _session_values(current.successor(successor_hash, now, expires_at)))
            return RotateResult("rotated", current)

    async def revoke_family(self, family_id: str, now: datetime) -> int:
        return await self._run("UPDATE auth.refresh_token SET revoked_at = %s WHERE family_id = %s "
                               "AND revoked_at IS NULL", (now, family_id))

    async def set_family_mfa(self, family_id: str, mfa_at: datetime) -> None:
        await self._run("UPDATE auth.refresh_token SET mfa_at = %s, amr = CASE WHEN 'otp' = ANY(amr) THEN amr "
                        "ELSE array_append(amr, 'otp') END WHERE family_id = %s", (mfa_at, family_id))

    async def revoke_access_token(self, jti: str, expires_at: datetime) -> None:
        await self._run("INSERT INTO auth.revoked_access_token (jti, expires_at) VALUES (%s, %s) "
                        "ON CONFLICT (jti) DO NOTHING", (jti, expires_at))

    async def access_token_revoked(self, jti: str) -> bool:
        return await self._one("SELECT 1 AS hit FROM auth.revoked_access_token WHERE jti = %s", (jti,)) is not None

    async def totp(self, subject: str) -> TotpRecord | None:
        row = await self._one("SELECT * FROM auth.totp WHERE subject = %s", (subject,))
        if row is None:
            return None
        secret = self.box.decrypt(bytes(row.pop("secret_ciphertext")), subject)
        return TotpRecord(secret=secret, **row)

    async def put_totp(self, subject: str, secret: str, now: datetime) -> None:
        await self._run("INSERT INTO auth.totp (subject, secret_ciphertext, created_at) VALUES (%s, %s, %s) "
                        "ON CONFLICT (subject) DO UPDATE SET secret_ciphertext = excluded.secret_ciphertext, "
                        "created_at = excluded.created_at, confirmed_at = NULL, last_step = NULL",
                        (subject, self.box.encrypt(secret, subject), now))

    async def accept_totp_step(self, subject: str, step: int, now: datetime) -> bool:
        return await self._run("UPDATE auth.totp SET last_step = %s, confirmed_at = coalesce(confirmed_at, %s) "
                               "WHERE subject = %s AND (last_step IS NULL OR last_step < %s)",
                               (step, now, subject, step)) == 1

    async def add_api_key(self, record: ApiKeyRecord) -> None:
        await self._run(
            "INSERT INTO auth.api_key (prefix, secret_hash, name, role, scopes, branches, allowed_ips, created_by, "
            "created_at, expires_at) VALUES (%s, %s, %s, %s, %s, %s, %s::cidr[], %s, %s, %s)",
            (record.prefix, record.secret_hash, record.name, record.role, sorted(record.scopes),
             None if record.branches is None else sorted(record.branches), list(record.allowed_ips),
             record.created_by, record.created_at, record.expires_at))

    async def api_key(self, prefix: str) -> ApiKeyRecord | None:
        row = await self._one(f"SELECT {_KEY_COLUMNS} FROM auth.api_key WHERE prefix = %s", (prefix,))
        return None if row is None else _key(row)

    async def list_api_keys(self) -> list[ApiKeyRecord]:
        async with self.pool.connection() as conn:
            cur = await conn.execute(self._q(f"SELECT {_KEY_COLUMNS} FROM auth.api_key ORDER BY created_at, prefix"))
            return [_key(row) for row in await cur.fetchall()]

    async def revoke_api_key(self, prefix: str, now: datetime) -> bool:
        return await self._run("UPDATE auth.api_key SET revoked_at = %s WHERE prefix = %s AND revoked_at IS NULL",
                               (now, prefix)) == 1

    async def touch_api_key(self, prefix: str, now: datetime) -> None:
        await self._run("UPDATE auth.api_key SET last_used_at = %s WHERE prefix = %s", (now, prefix))

    async def purge_expired(self, now: datetime) -> int:
        """Delete refresh tokens and revoked-token entries that can no longer be presented."""
        removed = await self._run("DELETE FROM auth.refresh_token WHERE family_expires_at < %s", (now,))
        return removed + await self._run("DELETE FROM auth.revoked_access_token WHERE expires_at < %s", (now,))

    # ---- provisioning (the local stack's seed; a real deployment's user administration)

    async def set_employee_password(self, employee_no: str, password_hash: str) -> int | None:
        """Store an employee's password hash; the employee's id, or None when there is no such employee."""
        row = await self._one("SELECT employee_id FROM w110.employee_master WHERE employee_no = %s", (employee_no,))
        if row is None:
            return None
        await self._run("INSERT INTO auth.employee_credential (employee_id, password_hash) VALUES (%s, %s) "
                        "ON CONFLICT (employee_id) DO UPDATE SET password_hash = excluded.password_hash, "
                        "updated_at = now()", (row["employee_id"], password_hash))
        return int(row["employee_id"])

    async def set_local_user(self, username: str, password_hash: str, role: str,
                             branches: frozenset[str] | None) -> None:
        await self._run("INSERT INTO auth.local_user (username, password_hash, role, branches) VALUES (%s, %s, %s, %s) "
                        "ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash, "
                        "role = excluded.role, branches = excluded.branches",
                        (username, password_hash, role, None if branches is None else sorted(branches)))

    async def set_client(self, client: ClientRecord) -> None:
        await self._run("INSERT INTO auth.client (client_id, secret_hash, role, scopes, branches, active) "
                        "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (client_id) DO UPDATE SET "
                        "secret_hash = excluded.secret_hash, role = excluded.role, scopes = excluded.scopes, "
                        "branches = excluded.branches, active = excluded.active",
                        (client.client_id, client.secret_hash, client.role, sorted(client.scopes),
                         None if client.branches is None else sorted(client.branches), client.active))


def _session_values(s: RefreshSession) -> tuple[Any, ...]:
    return (s.token_hash, s.family_id, s.subject, s.client_id, sorted(s.scopes), list(s.amr), s.auth_time, s.mfa_at,
            s.issued_at, s.expires_at, s.family_expires_at, s.used_at, s.revoked_at)
