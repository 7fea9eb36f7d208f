"""The ClickHouse sink passes the same contract as the in-memory sink, on the real server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from infra.clickhouse.runner import get_client
from infra.settings import StackSettings
from sinks.base import Sink
from sinks.clickhouse import ClickHouseSink
from sinks.ddl import TableDef
from tests.unit.sinks.contract import DEFS, SinkContract

pytestmark = pytest.mark.integration


class TestClickHouseSink(SinkContract):
    @pytest.fixture
    def sink(self, stack: StackSettings) -> Iterator[Sink]:
        database = f"contract_{uuid.uuid4().hex[:8]}"
        client = get_client(stack, database="default")
        client.command(f"CREATE DATABASE `{database}`")
        for definition in DEFS.values():
            client.command(definition.create(database))
        sink = ClickHouseSink(client, database, DEFS)
        try:
            yield sink
        finally:
            client.command(f"DROP DATABASE `{database}`")
            sink.close()

    def make_sink(self, defs: dict[str, TableDef]) -> Sink:
        raise AssertionError("the fixture builds the ClickHouse sink")
