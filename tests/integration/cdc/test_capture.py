"""Change data capture end to end: PostgreSQL → Debezium → Kafka → typed changes equal to the rows."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from infra.postgres.tables import CAPTURED_TABLES
from infra.settings import StackSettings
from schemas.decode import ChangeDecoder, MalformedChange
from streams.topics import heartbeat_topic_name
from tests.integration.cdc.capture import (
    database_rows,
    decode_all,
    end_offsets,
    eventually,
    execute,
    key_of,
    read,
    replay,
)

pytestmark = pytest.mark.integration


def stream_matches_database(settings: StackSettings, table: str) -> bool | None:
    changes = decode_all(settings, read(settings, [table]))
    streamed, stored = replay(table, changes), database_rows(settings, table)
    if streamed != stored:
        missing = len(stored.keys() - streamed.keys())
        differing = sum(1 for k in stored.keys() & streamed.keys() if stored[k] != streamed[k])
        raise AssertionError(f"{table}: {missing} rows not streamed, {differing} differ, "
                             f"{len(streamed.keys() - stored.keys())} extra")
    return True


def test_snapshot_and_stream_replay_to_the_database_state(stack: StackSettings) -> None:
    """Every captured table: the pre-existing rows arrive as snapshot reads, and replaying the topic
    gives exactly the rows PostgreSQL holds, field for field, as the same models."""
    snapshot_tables = 0
    for table in CAPTURED_TABLES:
        eventually(lambda table=table: stream_matches_database(stack, table))  # type: ignore[misc]
        ops = Counter(c.op for c in decode_all(stack, read(stack, [table])))
        if database_rows(stack, table):
            assert ops["r"] > 0, f"{table} has rows but no snapshot reads"
            snapshot_tables += 1
    assert snapshot_tables == len(CAPTURED_TABLES)


# One table per module: (table, insert returning the key, update, delete), all by key %s.
MODULE_CHANGES: dict[str, tuple[str, str, str, str]] = {
    "W110": ("w110.system_parameter",
             "INSERT INTO w110.system_parameter (param_key, param_value, value_type, category, description_zh) "
             "VALUES ('test.cdc_probe', '1', 'int', 'system', '測試用參數') RETURNING param_key",
             "UPDATE w110.system_parameter SET param_value = '2', updated_at = now() WHERE param_key = %s",
             "DELETE FROM w110.system_parameter WHERE param_key = %s"),
    "W100": ("w100.customer_contact",
             "INSERT INTO w100.customer_contact (customer_id, name_zh, mobile, is_primary, accepts_sms) "
             "SELECT min(customer_id), '林小姐', '0912345678', false, true FROM w100.customer_master RETURNING contact_id",
             "UPDATE w100.customer_contact SET mobile = '0987654321', updated_at = now() WHERE contact_id = %s",
             "DELETE FROM w100.customer_contact WHERE contact_id = %s"),
    "W200": ("w200.order_status_log",
             "INSERT INTO w200.order_status_log (order_id, from_status, to_status, changed_at, note_zh) "
             "SELECT min(order_id), 'pending', 'confirmed', now(), '電話確認' FROM w200.order_master RETURNING log_id",
             "UPDATE w200.order_status_log SET note_zh = '客戶改期', updated_at = now() WHERE log_id = %s",
             "DELETE FROM w200.order_status_log WHERE log_id = %s"),
    "W300": ("w300.stock_movement",
             "INSERT INTO w300.stock_movement (warehouse_code, product_id, movement_type, quantity, reference_type, moved_at) "
             "SELECT warehouse_code, product_id, 'adjustment', 1, 'count', now() FROM w300.warehouse_stock "
             "ORDER BY stock_id LIMIT 1 RETURNING movement_id",
             "UPDATE w300.stock_movement SET quantity = -1, updated_at = now() WHERE movement_id = %s",
             "DELETE FROM w300.stock_movement WHERE movement_id = %s"),
    "W500": ("w500.payment_record",
             "INSERT INTO w500.payment_record (invoice_id, customer_id, payment_date, received_at, amount, method, status) "
             "SELECT invoice_id, customer_id, current_date, now(), 1050.00, 'cash', 'received' FROM w500.invoice_header "
             "ORDER BY invoice_id LIMIT 1 RETURNING payment_id",
             "UPDATE w500.payment_record SET amount = 1575.50, updated_at = now() WHERE payment_id = %s",
             "DELETE FROM w500.payment_record WHERE payment_id = %s"),
    "W600": ("w600.gl_transaction",
             "INSERT INTO w600.gl_transaction (journal_no, line_no, account_code, posting_date, period, debit, credit, "
             "source_module, description_zh) SELECT 'JTEST-0001', 1, min(account_code), current_date, "
             "to_char(current_date, 'YYYY-MM'), 100.00, 0, 'W600', '測試分錄' FROM w600.gl_master WHERE is_postable "
             "RETURNING txn_id",
             "UPDATE w600.gl_transaction SET debit = 250.75, updated_at = now() WHERE txn_id = %s",
             "DELETE FROM w600.gl_transaction WHERE txn_id = %s"),
    "W700": ("w700.driver_assignment",
             "INSERT INTO w700.driver_assignment (dispatch_id, employee_id, role, assigned_at, shift_start, status) "
             "SELECT (SELECT min(dispatch_id) FROM w700.dispatch_master), (SELECT min(employee_id) FROM "
             "w110.employee_master), 'assistant', now(), now(), 'assigned' RETURNING assignment_id",
             "UPDATE w700.driver_assignment SET status = 'on_duty', updated_at = now() WHERE assignment_id = %s",
             "DELETE FROM w700.driver_assignment WHERE assignment_id = %s"),
}


@pytest.mark.parametrize("module", sorted(MODULE_CHANGES))
def test_insert_update_delete_arrive_with_before_and_after_images(stack: StackSettings, module: str) -> None:
    table, insert, update, delete = MODULE_CHANGES[module]
    start = end_offsets(stack, [table])
    key = execute(stack, insert)
    inserted = database_rows(stack, table)
    execute(stack, update, (key,))
    updated = database_rows(stack, table)
    execute(stack, delete, (key,))

    def three_changes() -> list[Any] | None:
        changes = decode_all(stack, read(stack, [table], from_offsets=start))
        mine = [c for c in changes if key_of(table, c.after or c.before)[0] == key]  # type: ignore[arg-type]
        return mine if len(mine) >= 3 else None

    c, u, d = eventually(three_changes)
    row_key = next(k for k in inserted if k[0] == key)
    assert (c.op, u.op, d.op) == ("c", "u", "d")
    assert c.before is None and c.after == inserted[row_key]
    assert u.before == inserted[row_key] and u.after == updated[row_key]
    assert d.before == updated[row_key] and d.after is None
    assert c.source.lsn < u.source.lsn < d.source.lsn
    assert len({c.source.tx_id, u.source.tx_id, d.source.tx_id}) == 3  # three transactions
    assert all(x.source.ts_ms <= x.ts_ms for x in (c, u, d))  # committed before Debezium saw it


def _write_probe_rows(stack: StackSettings, tag: str, count: int) -> None:
    for i in range(count):
        execute(stack, "INSERT INTO w110.system_parameter (param_key, param_value, value_type, category, description_zh) "
                       "VALUES (%s, %s, 'int', 'system', '重啟測試')", (f"test.{tag}.{i}", str(i)))
        if i % 3 == 0:
            execute(stack, "UPDATE w110.system_parameter SET param_value = param_value || '0' WHERE param_key = %s",
                    (f"test.{tag}.{i}",))


def _probe_changes_arrive_exactly_once(stack: StackSettings, tag: str, count: int, start: Any) -> None:
    expected = count + len(range(0, count, 3))

    def arrived() -> list[Any] | None:
        changes = decode_all(stack, read(stack, ["w110.system_parameter"], from_offsets=start))
        mine = [ch for ch in changes if (ch.after or ch.before).param_key.startswith(f"test.{tag}.")]  # type: ignore[union-attr]
        return mine if len(mine) >= expected else None

    mine = eventually(arrived, timeout=180)
    identities = [(ch.source.lsn, ch.op, ch.after.param_key) for ch in mine]  # type: ignore[union-attr]
    assert len(identities) == len(set(identities)) == expected, "a change arrived twice"


def test_changes_made_while_connect_is_stopped_arrive_once_after_restart(stack: StackSettings) -> None:
    from infra.kafka.connect import start_connect, stop_connect

    start = end_offsets(stack, ["w110.system_parameter"])
    stop_connect(stack)
    _write_probe_rows(stack, "connect_down", 30)
    start_connect(stack)
    _probe_changes_arrive_exactly_once(stack, "connect_down", 30, start)


def test_kafka_restart_loses_no_change(stack: StackSettings) -> None:
    from infra.kafka.broker import start_kafka, stop_kafka
    from infra.kafka.connect import connect_healthy

    start = end_offsets(stack, ["w110.system_parameter"])
    stop_kafka(stack)
    _write_probe_rows(stack, "kafka_down", 20)
    start_kafka(stack)
    eventually(lambda: connect_healthy(stack) or None, timeout=120)
    _probe_changes_arrive_exactly_once(stack, "kafka_down", 20, start)


def test_postgres_restart_loses_no_change(stack: StackSettings) -> None:
    from infra.kafka.connect import connect_healthy
    from infra.postgres.runner import start_postgres, stop_postgres

    start = end_offsets(stack, ["w110.system_parameter"])
    _write_probe_rows(stack, "pg_before", 5)
    stop_postgres(stack)
    start_postgres(stack)
    eventually(lambda: connect_healthy(stack) or None, timeout=120)
    _write_probe_rows(stack, "pg_after", 10)
    _probe_changes_arrive_exactly_once(stack, "pg_before", 5, start)
    _probe_changes_arrive_exactly_once(stack, "pg_after", 10, start)


def test_heartbeats_keep_arriving_when_tables_are_quiet(stack: StackSettings) -> None:
    topic = heartbeat_topic_name(stack.kafka.topic_prefix)

    def two_beats() -> list[Any] | None:
        beats = asyncio.run(_read_topic(stack, topic))
        return beats if len(beats) >= 2 else None

    first = len(eventually(two_beats))

    def more_beats() -> list[Any] | None:
        beats = asyncio.run(_read_topic(stack, topic))
        return beats if len(beats) > first else None

    assert len(eventually(more_beats, timeout=30)) > first


async def _read_topic(stack: StackSettings, topic: str) -> list[Any]:
    from streams.replay import read_to_end
    return await read_to_end(stack.kafka.bootstrap_servers, [topic], timeout=30)


def test_a_malformed_record_raises_the_typed_error(stack: StackSettings) -> None:
    topic = f"{stack.kafka.topic_prefix}.w200.order_master"

    async def produce() -> int:
        producer = AIOKafkaProducer(bootstrap_servers=stack.kafka.bootstrap_servers)
        await producer.start()
        try:
            meta = await producer.send_and_wait(topic, b'{"op": "c", "after": {"order_id": "not a number"}}')
            return int(meta.offset)
        finally:
            await producer.stop()

    offset = asyncio.run(produce())
    record = next(r for r in read(stack, ["w200.order_master"]) if r.offset == offset)
    with pytest.raises(MalformedChange) as caught:
        ChangeDecoder(stack.kafka.topic_prefix).decode(record.topic, record.value, partition=record.partition,
                                                       offset=record.offset)
    assert caught.value.topic == topic and caught.value.offset == offset
    assert "after.order_id: Input should be a valid integer" in caught.value.reason
