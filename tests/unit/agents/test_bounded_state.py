"""The engine's state in a store with a bounded cache: as exact as unbounded, restartable, and small.

Every test compares with an engine that keeps everything in memory (the behaviour the exactness tests of
test_engine.py pin down), fed the same changes: caching, eviction, staging and restarts must change nothing.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path

import pytest

from agents.engine import Change, Engine, Output
from agents.recovery import lost_cells
from agents.spaces import IndexSpace, Spaces
from agents.store import MemoryStore, RocksStore, Store
from infra.clock import FixedClock
from schemas.outputs import FAMILIES
from sinks.memory import MemorySink
from tests.unit.agents import builders as b
from tests.unit.agents.test_engine import _random_changes

POSITIONS = {("t", 0): 0}


def rows(out: Output) -> dict[str, list[str]]:
    """An output's rows, comparable across engines (versions come from each engine's own clock)."""
    return {table: sorted(repr(sorted((k, v) for k, v in row.items() if k != "_version")) for row in found)
            for table, found in out.rows.items()}


def bounded(store: Store, capacity: int = 2, clock: FixedClock | None = None) -> Engine:
    return Engine(clock or FixedClock(b.T0), store=store, cache_entries=capacity)


def batches(changes: list[Change], size: int) -> list[list[Change]]:
    return [changes[i:i + size] for i in range(0, len(changes), size)]


@pytest.mark.parametrize("capacity", [1, 3, 50])
def test_a_tiny_cache_gives_the_same_cells_as_keeping_everything(capacity: int) -> None:
    for seed in range(25):
        changes = _random_changes(random.Random(seed), 150)
        full, small = Engine(FixedClock(b.T0)), bounded(MemoryStore(), capacity)
        for n, batch in enumerate(batches(changes, 6)):
            expected, got = full.apply(batch), small.apply(batch)
            small.commit(small.stage(), {("t", 0): n})
            assert rows(got) == rows(expected), f"seed {seed}, batch {n}"
        assert small.aggregates.snapshot() == full.aggregates.snapshot(), f"seed {seed}"


def test_overlapped_commits_keep_reads_current() -> None:
    """Batch n+1 is applied before batch n's state is committed (the worker's overlapped writes)."""
    for seed in range(25):
        changes = _random_changes(random.Random(100 + seed), 150)
        full, small = Engine(FixedClock(b.T0)), bounded(MemoryStore(), 1)
        waiting = None
        for n, batch in enumerate(batches(changes, 5)):
            assert rows(small.apply(batch)) == rows(full.apply(batch)), f"seed {seed}, batch {n}"
            staged = small.stage()
            if waiting is not None:
                small.commit(waiting, {("t", 0): n - 1})
            waiting = staged
        assert waiting is not None
        small.commit(waiting, {("t", 0): 99})
        assert small.aggregates.snapshot() == full.aggregates.snapshot(), f"seed {seed}"


def test_a_restart_resumes_from_the_store_without_recomputing() -> None:
    for seed in range(20):
        changes = _random_changes(random.Random(200 + seed), 160)
        full = Engine(FixedClock(b.T0))
        full.apply(changes)
        store = MemoryStore()
        first = bounded(store)
        parts = batches(changes, 8)
        for n, batch in enumerate(parts[:10]):
            first.apply(batch)
            first.commit(first.stage(), {("t", 0): n + 1})
        # A crash after batch 10 was applied and staged but before it was committed: it is replayed.
        first.apply(parts[10])
        first.stage()
        second = bounded(store)
        assert second.stored_positions() == {("t", 0): 10}
        second.resume()
        for batch in parts[10:]:
            second.apply(batch)
        assert second.aggregates.snapshot() == full.aggregates.snapshot(), f"seed {seed}"


def _write(sink: MemorySink, out: Output) -> None:
    for table, found in out.rows.items():
        sink.add(table, found)
    sink.flush()


def _cells(sink: MemorySink) -> dict[str, list[str]]:
    return {f.table: sorted(repr(sorted((k, v) for k, v in r.items() if k not in ("_version", "_updated_at")))
                            for r in sink.latest(f.table)) for f in FAMILIES.values()}


def _crash_and_resume(changes: list[Change], *, undo: bool) -> MemorySink:
    """Batches of 4 written and committed up to the 12th; the next 8 written but never committed (the worker
    was killed); a new engine on the same store resumes and replays everything left as one batch."""
    store, sink = MemoryStore(), MemorySink()
    first = bounded(store)
    parts = batches(changes, 4)
    for n, batch in enumerate(parts[:20]):
        _write(sink, first.apply(batch))
        staged = first.stage()
        if n < 12:
            first.commit(staged, {("t", 0): n + 1})
    second = bounded(store)
    assert second.stored_positions() == {("t", 0): 12}
    version = second.resume()
    if undo:
        _write(sink, lost_cells(second, sink, version))
    _write(sink, second.apply([c for batch in parts[12:] for c in batch]))
    return sink


def test_cells_a_lost_batch_wrote_are_undone_when_the_replay_never_touches_them() -> None:
    """The replay forms other batches than the lost ones, so a line added in one lost batch and removed in
    the next nets to nothing and never rewrites the cell the first one wrote: lost cells are rewritten from
    the store's state first (`recovery.lost_cells`), then the replay moves them on."""
    stale_without_undo = 0
    for seed in range(40):
        changes = _random_changes(random.Random(300 + seed), 160)
        truth = MemorySink()
        _write(truth, Engine(FixedClock(b.T0)).apply(changes))
        stale_without_undo += _cells(_crash_and_resume(changes, undo=False)) != _cells(truth)
        assert _cells(_crash_and_resume(changes, undo=True)) == _cells(truth), f"seed {seed}"
    assert stale_without_undo > 0  # the case this guards against does arise


def test_memory_is_bounded_by_the_cache_not_by_the_history() -> None:
    small = bounded(MemoryStore(), 20)
    for n in range(1, 400):
        batch = [b.change("w200.order_master", None, b.order(n, customer_id=n)),
                 b.change("w200.order_detail", None, b.line(n, n, product_id=n % 7)),
                 b.change("w500.invoice_header", None, b.invoice(n, customer_id=n)),
                 b.change("w500.payment_record", None, b.payment(n, n, amount="1050.00"))]
        small.apply(batch)
        small.commit(small.stage(), {("t", 0): n})
    held = small.spaces.memory_entries()
    stored = sum(1 for _ in small.store.scan(b""))  # type: ignore[attr-defined]
    assert stored > 4_000
    # 12 row spaces, 7 cell families and 3 engine spaces of at most 20 entries, plus the small index sets.
    assert held < 22 * 20 + 8 * 20 * 2


def test_a_new_day_re_ages_only_open_invoices_and_stays_exact() -> None:
    clock = FixedClock(b.T0)
    small, full = bounded(MemoryStore(), 2, clock), Engine(clock)
    changes = [b.change("w500.invoice_header", None, b.invoice(n, customer_id=n % 3 + 1,
                                                                day=date(2026, 11, 1) - timedelta(days=n)))
               for n in range(1, 60)]
    changes += [b.change("w500.payment_record", None, b.payment(n, n, amount="1050.00")) for n in range(1, 50)]
    for engine in (small, full):
        engine.apply(changes)
    small.commit(small.stage(), POSITIONS)
    assert sum(1 for _ in small._open_invoices.entries()) == 10  # 49 of 59 are paid in full
    for _ in range(40):
        clock.advance(timedelta(days=1))
        assert rows(small.tick()) == rows(full.tick())
        small.commit(small.stage(), POSITIONS)
    rebuilt = Engine(clock)
    rebuilt.apply(changes)
    assert small.aggregates.snapshot()["receivables"] == rebuilt.aggregates.snapshot()["receivables"]


def test_the_business_day_and_open_windows_survive_a_restart() -> None:
    clock = FixedClock(b.T0)
    store = MemoryStore()
    first = bounded(store, 2, clock)
    first.apply([b.change("w200.order_master", None, b.order(1)), b.change("w200.order_detail", None, b.line(1, 1)),
                 b.change("w500.invoice_header", None, b.invoice(1, day=date(2026, 10, 31)))])  # 30 days old
    first.commit(first.stage(), POSITIONS)
    clock.advance(timedelta(days=1, minutes=5))
    second = bounded(store, 2, clock)
    second.resume()
    assert second.today == first.today
    out = second.tick()
    closed = [r for r in out.rows["agg_sales"] if r["grain"] == "minute"]
    assert closed and all(r["closed"] == 1 for r in closed)
    assert out.rows["agg_receivables"][0]["age_31_60_cents"] == 105000


def test_rocksdb_store_writes_atomically_and_scans_by_prefix(tmp_path: Path) -> None:
    store = RocksStore(tmp_path / "state", cache_mib=8)
    store.write([(b"\x01a", b"1"), (b"\x01b", b"2"), (b"\x02a", b"3")])
    store.write([(b"\x01a", None)])
    assert store.get(b"\x01a") is None
    assert list(store.scan(b"\x01")) == [(b"\x01b", b"2")]
    store.close()
    reopened = RocksStore(tmp_path / "state", cache_mib=8)
    assert reopened.get(b"\x02a") == b"3"
    reopened.wipe()
    assert list(reopened.scan(b"")) == []
    reopened.close()


def test_an_engine_on_rocksdb_equals_one_in_memory(tmp_path: Path) -> None:
    changes = _random_changes(random.Random(7), 300)
    full = Engine(FixedClock(b.T0))
    disk = bounded(RocksStore(tmp_path / "state", cache_mib=8), 4)
    for n, batch in enumerate(batches(changes, 10)):
        assert rows(disk.apply(batch)) == rows(full.apply(batch))
        disk.commit(disk.stage(), {("t", 0): n})
    assert disk.aggregates.snapshot() == full.aggregates.snapshot()
    disk.store.close()


def test_an_index_set_that_grows_after_it_was_cached_stays_within_the_bound() -> None:
    # A branch's orders: cached while the branch had few, then growing with history (found at one year of the
    # engine bench: 1.4 million entries held against a bound of 0.7 million).
    spaces = Spaces(MemoryStore())
    index = IndexSpace(spaces, 40, capacity=50, largest_cached=30)
    assert index.children("TPE") == set()  # cached while small
    for n in range(200):
        index.add("TPE", n)
        index.add(f"customer-{n % 10}", n)
        spaces.commit(spaces.stage(), [])
        index.children(f"customer-{n % 10}")
        assert index.memory_entries() <= 50, n
    assert index.children("TPE") == set(range(200))  # read back from the store, exactly
    assert index.children("customer-3") == set(range(3, 200, 10))
