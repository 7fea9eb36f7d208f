"""The CredentialStore contract on PostgreSQL (schema per test), and what PostgreSQL keeps at rest."""

from __future__ import annotations

from collections.abc import AsyncIterator

import psycopg
import pytest
from cryptography.exceptions import InvalidTag
from psycopg import sql

from api.access.credentials import CredentialStore
from api.access.credentials_pg import PostgresCredentialStore, SecretBox
from tests.unit.access.test_credentials import NOW, CredentialStoreContract

pytestmark = pytest.mark.integration

KEY = bytes(range(32))


class TestPostgresStore(CredentialStoreContract):
    @pytest.fixture
    async def store(self, identity_dsn: str, schema: str) -> AsyncIterator[CredentialStore]:
        store = PostgresCredentialStore(identity_dsn, SecretBox(KEY), schema=schema)
        await store.open()
        try:
            yield store
        finally:
            await store.close()


async def test_totp_secrets_are_encrypted_and_bound_to_their_subject(identity_dsn: str, schema: str) -> None:
    store = PostgresCredentialStore(identity_dsn, SecretBox(KEY), schema=schema)
    await store.open()
    try:
        await store.put_totp("emp:1", "JBSWY3DPEHPK3PXP", NOW)
        async with await psycopg.AsyncConnection.connect(identity_dsn, autocommit=True) as conn:
            cur = await conn.execute(sql.SQL("SELECT secret_ciphertext FROM {}.totp").format(sql.Identifier(schema)))
            row = await cur.fetchone()
            assert row is not None and b"JBSWY3DPEHPK3PXP" not in bytes(row[0])
            await conn.execute(sql.SQL("UPDATE {}.totp SET subject = 'emp:2'").format(sql.Identifier(schema)))
        with pytest.raises(InvalidTag):
            await store.totp("emp:2")  # moved to another account: does not decrypt
    finally:
        await store.close()


async def test_opening_twice_and_concurrently_is_harmless(identity_dsn: str, schema: str) -> None:
    import asyncio

    stores = [PostgresCredentialStore(identity_dsn, None, schema=schema) for _ in range(3)]
    await asyncio.gather(*(s.open() for s in stores))
    for s in stores:
        await s.close()


async def test_a_bad_schema_name_is_refused() -> None:
    with pytest.raises(ValueError, match="schema name"):
        PostgresCredentialStore("host=x", None, schema="auth; DROP TABLE x")
