"""The SeenStatementStore contract on PostgreSQL: two store instances (two connections, as two importers on
two machines would have) on one schema of the stack's database; each test gets a fresh schema."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import psycopg
import pytest
from psycopg import sql

from connectors.bank.dedup import PostgresSeenStatementStore
from infra.settings import StackSettings
from tests.unit.connectors_bank.mt940_samples import statement
from tests.unit.connectors_bank.seen_store_contract import SeenStatementStoreContract, imported_file

pytestmark = pytest.mark.integration


async def _drop_schema(dsn: str, schema: str) -> None:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
async def pg_stores(stack: StackSettings) -> AsyncIterator[tuple[PostgresSeenStatementStore, PostgresSeenStatementStore]]:
    dsn = stack.postgres.dsn()
    schema = f"bank_import_t{uuid.uuid4().hex[:12]}"
    first, second = PostgresSeenStatementStore(dsn, schema), PostgresSeenStatementStore(dsn, schema)
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()
        await _drop_schema(dsn, schema)


class TestPostgresSeenStatementStore(SeenStatementStoreContract):
    @pytest.fixture
    def store(self, pg_stores: tuple[PostgresSeenStatementStore, PostgresSeenStatementStore]) -> PostgresSeenStatementStore:
        return pg_stores[0]

    @pytest.fixture
    def twin(self, pg_stores: tuple[PostgresSeenStatementStore, PostgresSeenStatementStore]) -> PostgresSeenStatementStore:
        return pg_stores[1]


async def test_what_is_recorded_survives_a_new_connection_and_the_schema_is_created_once(
    pg_stores: tuple[PostgresSeenStatementStore, PostgresSeenStatementStore], stack: StackSettings
) -> None:
    store, _ = pg_stores
    the_file = imported_file("day1.sta", statement())
    await store.record(the_file, datetime(2026, 1, 14, 22, tzinfo=UTC))
    await store.close()
    reopened = PostgresSeenStatementStore(stack.postgres.dsn(), store.schema)
    try:
        assert (await reopened.file_seen(the_file.sha256)) is not None  # CREATE ... IF NOT EXISTS again: harmless
    finally:
        await reopened.close()
    async with await psycopg.AsyncConnection.connect(stack.postgres.dsn()) as conn:
        cur = await conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s ORDER BY 1", (store.schema,))
        assert [r[0] for r in await cur.fetchall()] == ["seen_file", "seen_statement"]
        cur = await conn.execute(sql.SQL("SELECT account, currency, statement_number, opening_date::text, "
                                         "opening_amount::text FROM {}.seen_statement").format(sql.Identifier(store.schema)))
        assert await cur.fetchall() == [("0081234567890", "TWD", "12/1", "2026-01-13", "150000")]


async def test_the_bank_import_schema_is_not_in_the_cdc_publication(stack: StackSettings) -> None:
    async with await psycopg.AsyncConnection.connect(stack.postgres.dsn()) as conn:
        cur = await conn.execute("SELECT DISTINCT schemaname FROM pg_publication_tables WHERE pubname = %s",
                                 (stack.postgres.publication_name,))
        schemas = {r[0] for r in await cur.fetchall()}
    assert schemas and "bank_import" not in schemas and not any(s.startswith("bank_import") for s in schemas)
