"""Helpers for the change-capture tests: read and decode a table's topic, replay it, compare with PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
from aiokafka import TopicPartition
from psycopg.rows import dict_row
from pydantic import BaseModel

from infra.settings import StackSettings
from schemas.decode import ChangeDecoder
from schemas.envelope import ChangeEnvelope
from schemas.registry import TABLES
from streams.replay import RawRecord, read_to_end

T = TypeVar("T")


def topic(settings: StackSettings, table: str) -> str:
    return f"{settings.kafka.topic_prefix}.{table}"


def read(settings: StackSettings, tables: list[str], from_offsets: dict[TopicPartition, int] | None = None
         ) -> list[RawRecord]:
    topics = [topic(settings, t) for t in tables]
    return asyncio.run(read_to_end(settings.kafka.bootstrap_servers, topics, timeout=60, from_offsets=from_offsets))


def end_offsets(settings: StackSettings, tables: list[str]) -> dict[TopicPartition, int]:
    """Where each table topic ends now: read later changes from here."""
    records = read(settings, tables)
    ends: dict[TopicPartition, int] = {TopicPartition(topic(settings, t), 0): 0 for t in tables}
    for r in records:
        tp = TopicPartition(r.topic, r.partition)
        ends[tp] = max(ends.get(tp, 0), r.offset + 1)
    return ends


def decode_all(settings: StackSettings, records: list[RawRecord]) -> list[ChangeEnvelope[BaseModel]]:
    decoder = ChangeDecoder(settings.kafka.topic_prefix)
    out = []
    for r in records:
        change = decoder.decode(r.topic, r.value, partition=r.partition, offset=r.offset)
        if change is not None:
            out.append(change)
    return out


def key_of(table: str, row: BaseModel) -> tuple[Any, ...]:
    return tuple(getattr(row, column) for column in TABLES[table].primary_key)


def replay(table: str, changes: list[ChangeEnvelope[BaseModel]]) -> dict[tuple[Any, ...], BaseModel]:
    """The table as the stream says it is: apply every change in order."""
    state: dict[tuple[Any, ...], BaseModel] = {}
    for change in changes:
        if change.op == "d":
            assert change.before is not None
            state.pop(key_of(table, change.before), None)
        else:
            assert change.after is not None
            state[key_of(table, change.after)] = change.after
    return state


def database_rows(settings: StackSettings, table: str) -> dict[tuple[Any, ...], BaseModel]:
    """The table as PostgreSQL has it, as the same row models."""
    spec = TABLES[table]
    with psycopg.connect(settings.postgres.dsn(), row_factory=dict_row) as conn:
        rows = conn.execute(f"SELECT * FROM {table}").fetchall()
    models = [spec.model.model_validate(row) for row in rows]
    return {key_of(table, m): m for m in models}


def execute(settings: StackSettings, sql: str, params: tuple[Any, ...] = ()) -> Any:
    """Run one statement in its own transaction; return the first column of the first row, if any."""
    with psycopg.connect(settings.postgres.dsn()) as conn:
        cur = conn.execute(sql, params)  # type: ignore[arg-type]
        row = cur.fetchone() if cur.description else None
        conn.commit()
    return row[0] if row else None


def eventually(check: Callable[[], T | None], timeout: float = 90.0, every: float = 1.0) -> T:
    """Call `check` until it returns something other than None (CDC is asynchronous)."""
    deadline = time.monotonic() + timeout
    last_error: AssertionError | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
        except AssertionError as error:
            last_error = error
            result = None
        if result is not None:
            return result
        time.sleep(every)
    if last_error is not None:
        raise last_error
    raise AssertionError(f"condition not met within {timeout}s")
