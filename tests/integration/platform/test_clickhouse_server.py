"""The ClickHouse server from chdb-core: a real 26.9 engine over HTTP, durable across restarts."""

from __future__ import annotations

import pytest

from infra.clickhouse.runner import (
    clickhouse_healthy,
    get_client,
    kill_clickhouse,
    start_clickhouse,
    stop_clickhouse,
)
from infra.settings import StackSettings

pytestmark = pytest.mark.integration


def test_real_engine_with_replacing_merge_tree(stack: StackSettings) -> None:
    client = get_client(stack)
    try:
        assert client.server_version.startswith("26.9")
        client.command("CREATE TABLE IF NOT EXISTS probe_rmt (k UInt32, v String, ver UInt64) "
                       "ENGINE = ReplacingMergeTree(ver) ORDER BY k")
        client.insert("probe_rmt", [[1, "old", 1], [1, "new", 2], [2, "only", 1]], column_names=["k", "v", "ver"])
        rows = client.query("SELECT k, v FROM probe_rmt FINAL ORDER BY k").result_rows
        assert rows == [(1, "new"), (2, "only")]
    finally:
        client.close()


def test_data_survives_a_clean_stop_and_a_kill(stack: StackSettings) -> None:
    client = get_client(stack)
    client.command("CREATE TABLE IF NOT EXISTS probe_durable (k UInt32) ENGINE = MergeTree ORDER BY k")
    client.insert("probe_durable", [[i] for i in range(1000)], column_names=["k"])
    client.close()
    stop_clickhouse(stack)
    assert not clickhouse_healthy(stack)
    start_clickhouse(stack)
    start_clickhouse(stack)  # a second start while running is harmless
    kill_clickhouse(stack)
    start_clickhouse(stack)
    client = get_client(stack)
    try:
        assert client.query("SELECT count() FROM probe_durable").result_rows == [(1000,)]
    finally:
        client.close()
