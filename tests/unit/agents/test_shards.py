"""Several sharded engines, each given every change, add up to exactly the single engine: every cell is the sum
of the shards' parts, every current row is written by exactly one shard, and rows moving between roots of
different shards (a payment re-pointed to another invoice, a line to another order) are retracted and added."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from agents.engine import Change, Engine, Output
from agents.recovery import LayoutMismatch, load_checkpoint
from agents.shards import Shard, shard_of
from infra.clock import FixedClock
from schemas.outputs import FAMILIES
from sinks.memory import MemorySink
from tests.unit.agents import builders as b
from tests.unit.agents.test_engine import _random_changes


def _summed(engines: list[Engine]) -> dict[str, dict[tuple[Any, ...], list[int]]]:
    total: dict[str, dict[tuple[Any, ...], list[int]]] = {name: {} for name in FAMILIES}
    for e in engines:
        for family, cells in e.aggregates.snapshot().items():
            for key, values in cells.items():
                held = total[family].setdefault(key, [0] * len(values))
                total[family][key] = [h + v for h, v in zip(held, values, strict=True)]
    # A cell every shard holds at zero measures is absent in the single engine too (deleted): drop zeros.
    return {f: {k: v for k, v in cells.items() if any(v)} for f, cells in total.items()}


def _nonzero(e: Engine) -> dict[str, dict[tuple[Any, ...], list[int]]]:
    return {f: {k: v for k, v in cells.items() if any(v)} for f, cells in e.aggregates.snapshot().items()}


def _current(outputs: list[Output]) -> Counter[tuple[str, Any, int]]:
    written: Counter[tuple[str, Any, int]] = Counter()
    for out in outputs:
        for table, rows in out.rows.items():
            if table.startswith("cur_"):
                for row in rows:
                    written[(table, tuple(sorted((k, str(v)) for k, v in row.items())), row["_version"])] += 1
    return written


@pytest.mark.parametrize("count", [2, 3])
def test_shards_add_up_to_the_single_engine_over_random_histories(count: int) -> None:
    for seed in range(30):
        changes = _random_changes(random.Random(seed), 150)
        single = Engine(FixedClock(b.T0))
        shards = [Engine(FixedClock(b.T0), shard=Shard(i, count)) for i in range(count)]
        single_out, shard_out = [], []
        for start in range(0, len(changes), 7):
            batch = changes[start:start + 7]
            single_out.append(single.apply(batch))
            shard_out += [e.apply(batch) for e in shards]
        assert _summed(shards) == _nonzero(single), f"seed {seed}"
        assert _current(shard_out) == _current(single_out), f"seed {seed}: each current row once, by one shard"
        for out in shard_out:
            for family in FAMILIES.values():
                assert {row["shard"] for row in out.rows.get(family.table, [])} <= set(range(count))


def test_a_new_business_day_reages_each_shards_open_invoices_only() -> None:
    clock = FixedClock(b.T0)
    changes: list[Change] = [b.change("w500.invoice_header", None, b.invoice(k, customer_id=1, day=b.T0.date()))
                             for k in range(1, 7)]
    single = Engine(clock)
    shards = [Engine(clock, shard=Shard(i, 2)) for i in range(2)]
    for e in (single, *shards):
        e.apply(changes)
    clock.advance(timedelta(days=45))
    for e in (single, *shards):
        e.tick()
    assert _summed(shards) == _nonzero(single)
    assert [sum(1 for _ in e._open_invoices.entries()) for e in shards] == [3, 3]


def test_ownership_is_stable_and_validated() -> None:
    assert [shard_of(k, 3) for k in (0, 1, 2, 3)] == [0, 1, 2, 0]
    assert shard_of("TPE", 4) == shard_of("TPE", 4) and 0 <= shard_of("TPE", 4) < 4
    assert Shard().owns_root(("order", 5)) and Shard(1, 2).owns_root(("order", 5))
    assert not Shard(0, 2).owns_root(("order", 5)) and Shard(0, 2).owns_root(("payment", 5))
    line = b.line(9, 4)
    assert Shard(0, 2).owner("w200.order_detail", line) == 4 and Shard(0, 2).keeps("w200.order_detail", line)
    assert Shard(1, 2).keeps("w200.order_master", b.order(5))  # shared: kept by all, written by its owner
    assert not Shard(0, 2).writes_current("w200.order_master", b.order(5))
    for bad in ((2, 2), (-1, 2), (0, 0), (0, 65)):
        with pytest.raises(ValueError, match="shard"):
            Shard(*bad)


def _offsets(shard: int, shards: int, offset: int) -> dict[str, Any]:
    return {"topic": "luckygas.w200.order_master", "partition": 0, "next_offset": offset, "_version": 1,
            "_deleted": 0, "_updated_at": b.T0, "shard": shard, "shards": shards}


def test_recovery_reads_its_own_shards_checkpoint_and_refuses_another_shard_count() -> None:
    sink = MemorySink()
    sink.add("stream_offsets", [_offsets(0, 2, 40), _offsets(1, 2, 55)])
    sink.flush()
    assert load_checkpoint(sink, Shard(1, 2)) == {("luckygas.w200.order_master", 0): 55}
    with pytest.raises(LayoutMismatch, match="2-shard streaming workers; this worker is shard 0 of 3"):
        load_checkpoint(sink, Shard(0, 3))
    with pytest.raises(LayoutMismatch, match="make rebuild"):
        load_checkpoint(sink, Shard())
