"""The ClickHouse sink passes the same contract as the in-memory sink, on the real server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date

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


def test_final_reads_only_the_months_asked_for_and_a_moved_row_stays_exact(stack: StackSettings) -> None:
    """The stack's profile (infra/clickhouse/access_render.py READ_SETTINGS) prunes month partitions under FINAL
    and deduplicates each month alone; with the engine's tombstone in the old month (agents/engine.py), each
    month alone is still exact."""
    database = f"prune_{uuid.uuid4().hex[:8]}"
    client = get_client(stack, database="default")
    client.command(f"CREATE DATABASE `{database}`")
    try:
        client.command(f"CREATE TABLE `{database}`.t (id Int64, day Date32, amount Int64, _version UInt64, "
                       "_deleted UInt8) ENGINE = ReplacingMergeTree(_version, _deleted) PARTITION BY toYYYYMM(day) "
                       "ORDER BY id")
        rows = [(i, date(2026, m, 15), i, 1, 0) for m in range(1, 13) for i in range(m * 1000, m * 1000 + 500)]
        client.insert(f"{database}.t", rows, column_names=["id", "day", "amount", "_version", "_deleted"])
        # Row 1000 moves from January to March at LSN 5: a deletion of its old image in January (2·5), the new
        # image in March (2·5 + 1), as the engine writes them.
        client.insert(f"{database}.t", [(1000, date(2026, 1, 15), 1000, 10, 1), (1000, date(2026, 3, 15), 7, 11, 0)],
                      column_names=["id", "day", "amount", "_version", "_deleted"])

        def read(first: str, last: str) -> tuple[tuple[int, int, int], int]:
            result = client.query(f"SELECT count(), sum(amount), countIf(id = 1000) FROM `{database}`.t FINAL "
                                  f"WHERE _deleted = 0 AND day BETWEEN '{first}' AND '{last}'")
            count, total, moved = result.result_rows[0]
            return (int(count), int(total), int(moved)), int(result.summary["read_rows"])

        january, january_read = read("2026-01-01", "2026-01-31")
        march, march_read = read("2026-03-01", "2026-03-31")
        assert january == (499, sum(range(1001, 1500)), 0)
        assert march == (501, sum(range(3000, 3500)) + 7, 1)
        everything = sum(sum(range(m * 1000, m * 1000 + 500)) for m in range(1, 13)) - 1000 + 7
        assert read("2026-01-01", "2026-12-31")[0] == (6000, everything, 1)  # each month deduplicated alone
        # One month's parts (FINAL may read a part's rows twice when it splits ranges), not all 6,002 rows.
        assert january_read < 1_200 and march_read < 1_200, (january_read, march_read)
        settings = client.query("SELECT getSetting('defer_partition_pruning_after_final'), "
                                "getSetting('do_not_merge_across_partitions_select_final')").result_rows[0]
        assert settings == (False, True)
    finally:
        client.command(f"DROP DATABASE `{database}`")
        client.close()
