"""Columns added upstream while the business goes on (the legacy team does that) lose nothing: the changes
of the altered tables keep streaming, the new columns are ignored, counted and reported per table."""

from __future__ import annotations

import time

import psycopg
import pytest

from infra.clickhouse.runner import get_client
from infra.settings import StackSettings
from infra.status import load_status
from tests.integration.streaming.helpers import simulator_running, wait_until_verified

pytestmark = pytest.mark.integration

ADDED = {"w200.order_master": "delivery_note text DEFAULT 'ring twice'",  # defaulted
         "w500.payment_record": "channel_ref integer"}  # nullable


def _alter(stack: StackSettings, statements: list[str]) -> None:
    with psycopg.connect(stack.postgres.dsn(), autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)  # our own fixed DDL


def test_columns_added_upstream_during_the_live_workload_lose_nothing(stack: StackSettings) -> None:
    assert wait_until_verified(stack, timeout=120) == []
    try:
        with simulator_running(stack, rate=60, seconds=20, seed=23) as simulator:
            time.sleep(5)
            _alter(stack, [f"ALTER TABLE {table} ADD COLUMN {column}" for table, column in ADDED.items()])
            output, _ = simulator.communicate(timeout=120)
        assert simulator.returncode == 0, output.decode()[-2000:]
        assert wait_until_verified(stack, timeout=180) == []
        status = load_status(stack.worker_status_file)
        assert status is not None
        drift = status["schema_drift"]
        assert drift["w200.order_master"]["added_columns"] == ["delivery_note"]
        assert drift["w200.order_master"]["records"] > 0, drift
        assert status["schema_broken"] == {}
        client = get_client(stack)
        try:
            lost = client.query("SELECT count() FROM dead_letters FINAL WHERE reason LIKE '%delivery_note%' "
                                "OR reason LIKE '%channel_ref%'").result_rows[0][0]
        finally:
            client.close()
        assert lost == 0
    finally:
        _alter(stack, [f"ALTER TABLE {table} DROP COLUMN IF EXISTS {column.split()[0]}"
                       for table, column in ADDED.items()])
