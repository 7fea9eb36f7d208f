"""The pipeline: dead letters go out before anything is written, data before its checkpoint, replays are no-ops."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from agents.engine import Change, Engine
from agents.pipeline import DeadLetter, Pipeline
from infra.clock import FixedClock
from schemas.decode import ChangeDecoder
from sinks.base import Row, Sink, SinkError
from sinks.ddl import TableDef
from sinks.memory import MemorySink
from streams.replay import RawRecord
from tests.unit.agents import builders as b

PREFIX = "lg"
HEARTBEAT = "__debezium-heartbeat.lg"


class RecordingSink(MemorySink):
    """Remembers the order tables were written in, to check the checkpoint comes last."""

    def __init__(self) -> None:
        super().__init__()
        self.order: list[str] = []

    def write_batch(self, definition: TableDef, rows: list[Row]) -> None:
        self.order.append(definition.name)
        super().write_batch(definition, rows)


def record(c: Change, offset: int) -> RawRecord:
    value = c.envelope.model_dump_json(by_alias=True).encode()
    return RawRecord(f"{PREFIX}.{c.table}", 0, offset, None, value, 0, 0.0)


def make(sink: Sink) -> tuple[Pipeline, list[DeadLetter]]:
    letters: list[DeadLetter] = []

    async def send(letter: DeadLetter) -> None:
        assert sink.pending == 0, "dead letters must be out before the batch is written"
        letters.append(letter)

    return Pipeline(Engine(FixedClock(b.T0)), sink, ChangeDecoder(PREFIX), HEARTBEAT, send), letters


async def test_a_malformed_record_is_dead_lettered_and_the_rest_applied() -> None:
    sink = RecordingSink()
    pipeline, letters = make(sink)
    good = [record(b.change("w200.order_master", None, b.order(1)), 0),
            record(b.change("w200.order_detail", None, b.line(1, 1)), 0)]
    bad = RawRecord(f"{PREFIX}.w200.order_master", 0, 1, None, b'{"op": "c", "after": {"order_id": "x"}}', 0, 0.0)
    report = await pipeline.process([good[0], bad, good[1]])
    assert report is not None
    assert (report.applied, report.dead_lettered) == (2, 1)
    assert letters[0].offset == 1 and "after.order_id: Input should be a valid integer" in letters[0].reason
    assert sink.latest("dead_letters")[0]["reason"] == letters[0].reason
    assert sink.order[-1] == "stream_offsets" and "agg_sales" in sink.order
    offsets = {(r["topic"], r["partition"]): r["next_offset"] for r in sink.latest("stream_offsets")}
    assert offsets == {("lg.w200.order_master", 0): 2, ("lg.w200.order_detail", 0): 1}
    day = [r for r in sink.latest("agg_sales") if r["grain"] == "day" and r["dimension"] == "total"]
    assert [(r["net_cents"], r["orders"]) for r in day] == [(80000, 1)]


async def test_replaying_a_batch_changes_nothing() -> None:
    sink = MemorySink()
    pipeline, _ = make(sink)
    batch = [record(b.change("w200.order_master", None, b.order(1)), 0),
             record(b.change("w200.order_detail", None, b.line(1, 1)), 0)]
    await pipeline.process(batch)
    before = sorted(map(repr, sink.latest("agg_sales")))
    report = await pipeline.process(batch)
    assert report is not None and report.stale == 2 and report.applied == 0
    assert sorted(map(repr, sink.latest("agg_sales"))) == before


async def test_heartbeats_keep_a_quiet_table_fresh() -> None:
    sink = MemorySink()
    pipeline, _ = make(sink)
    pipeline.highwaters = lambda tp: 0  # every topic consumed to its end
    await pipeline.process([record(b.change("w200.order_master", None, b.order(1)), 0)])
    beat_ms = int((b.T0 + timedelta(minutes=10)).timestamp() * 1000)
    await pipeline.process([RawRecord(HEARTBEAT, 0, 0, None, f'{{"ts_ms": {beat_ms}}}'.encode(), 0, 0.0)])
    fresh = {r["source_table"]: r for r in sink.latest("freshness")}
    assert int(fresh["w700.route_detail"]["caught_up_to"].timestamp() * 1000) == beat_ms
    assert fresh["w200.order_master"]["events_applied"] == 1


async def test_overlapped_writes_give_the_same_rows_in_order_and_keep_retrying_a_failing_sink() -> None:
    batches = [[record(b.change("w200.order_master", None, b.order(i)), i)] for i in range(1, 6)]
    inline, overlapped = RecordingSink(), RecordingSink()
    first, _ = make(inline)
    second, _ = make(overlapped)
    second.overlap_writes = True
    for batch in batches:
        await first.process(batch)
        await second.process(batch)
    await second.drain()
    def cells(sink: MemorySink) -> list[str]:
        return sorted(repr({k: v for k, v in r.items() if k not in ("_version", "_updated_at")})
                      for r in sink.latest("agg_sales"))

    assert cells(overlapped) == cells(inline)
    assert [t for t in overlapped.order if t == "stream_offsets"] == ["stream_offsets"] * 5



async def test_a_transient_write_failure_is_retried_until_it_passes_and_loses_nothing() -> None:
    class Flaky(MemorySink):
        failures = 3

        def write_batch(self, definition: TableDef, rows: list[Row]) -> None:
            if self.failures:
                self.failures -= 1
                raise ConnectionError("ClickHouse restarting")
            super().write_batch(definition, rows)

    sink = Flaky()
    pipeline, _ = make(sink)
    pipeline.retry_initial_seconds = pipeline.retry_max_seconds = 0.01
    report = await pipeline.process([record(b.change("w200.order_master", None, b.order(1)), 0)])
    assert report is not None and report.applied == 1 and sink.failures == 0
    assert pipeline.failing_since is None and "ClickHouse restarting" in pipeline.last_failure
    assert [r["next_offset"] for r in sink.latest("stream_offsets")] == [1]

    class Down(MemorySink):
        def write_batch(self, definition: TableDef, rows: list[Row]) -> None:
            raise ConnectionError("connection refused")

    down, _ = make(Down())
    down.overlap_writes = True
    down.retry_initial_seconds = down.retry_max_seconds = 0.01
    await down.process([record(b.change("w200.order_master", None, b.order(1)), 0)])
    with pytest.raises(asyncio.TimeoutError):  # retried, never dropped, while the failure lasts
        await asyncio.wait_for(down.drain(), 0.2)
    assert down.failing_since is not None


async def test_a_permanent_write_failure_is_raised_not_retried_and_writes_no_checkpoint() -> None:
    class Broken(MemorySink):
        def write_batch(self, definition: TableDef, rows: list[Row]) -> None:
            if definition.name == "agg_sales":
                raise TypeError("Decimal expected for net")
            super().write_batch(definition, rows)

    for overlap in (False, True):
        sink = Broken()
        broken, _ = make(sink)
        broken.overlap_writes = overlap
        with pytest.raises(SinkError, match="agg_sales failed: TypeError: Decimal expected") as raised:
            await broken.process([record(b.change("w200.order_master", None, b.order(1)), 0)])
            await broken.drain()
        assert not raised.value.transient
        assert sink.latest("stream_offsets") == []  # nothing acknowledged: a restart replays the batch


async def test_the_report_splits_latency_at_kafka_for_table_records_only() -> None:
    pipeline, _ = make(MemorySink())
    appended_ms = int(b.T0.timestamp() * 1000)
    batch = [RawRecord(f"{PREFIX}.w200.order_master", 0, 0, None,
                       b.change("w200.order_master", None, b.order(1)).envelope.model_dump_json(by_alias=True).encode(),
                       appended_ms, 0.0),
             RawRecord(HEARTBEAT, 0, 0, None, f'{{"ts_ms": {appended_ms}}}'.encode(), appended_ms, 0.0)]
    report = await pipeline.process(batch)
    assert report is not None and len(report.kafka_lags_ms) == 1  # the heartbeat is no change to make visible
    assert report.kafka_lags_ms[0] >= 0 and len(report.change_lags_ms) == 1


async def test_the_change_feed_gets_each_batch_once_written_before_its_checkpoint_in_order() -> None:
    sink = MemorySink()
    pipeline, _ = make(sink)
    published: list[tuple[set[str], dict[tuple[str, int], int]]] = []

    def checkpoint() -> dict[tuple[str, int], int]:
        return {(r["topic"], r["partition"]): r["next_offset"] for r in sink.latest("stream_offsets")}

    async def publish(rows: dict[str, list[Row]], positions: dict[tuple[str, int], int]) -> None:
        assert sink.pending == 0 and sink.latest("agg_sales")  # everything announced is already written …
        assert checkpoint() != positions  # … and the checkpoint only after: a crash between re-announces it
        published.append((set(rows), positions))

    pipeline.publish = publish
    for offset in range(3):
        await pipeline.process([record(b.change("w200.order_master", None, b.order(offset + 1)), offset)])
    assert [p[1] for p in published] == [{("lg.w200.order_master", 0): n} for n in (1, 2, 3)]
    assert checkpoint() == published[-1][1]
    assert all("agg_sales" in tables for tables, _ in published)
