"""A hypothesis state machine over the engine as the worker drives it: changes happen in PostgreSQL, reach
the engine late and interleaved across tables (in order per row, as Kafka keeps them), are replayed after
restarts that lose what was not committed, and the engine's cache is far smaller than its state, so old
roots are read back from the store. Everything the engine outputs is written to a sink at once, before its
state is committed (ClickHouse ahead of the store, as after a kill between a batch's write and its commit),
and a restart first undoes the cells of lost batches (`recovery.lost_cells`). Whenever everything emitted
has been delivered, every aggregate, in the engine and in the sink, equals a rebuild from the GENERATOR's own
final rows (not the engine's)."""

from __future__ import annotations

import random
from collections import deque
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from agents.engine import Change, Engine, Output
from agents.projections import project
from agents.recovery import lost_cells
from agents.spaces import Staged
from agents.store import MemoryStore
from infra.clock import FixedClock
from schemas.outputs import FAMILIES, current_table
from schemas.registry import TABLES
from sinks.memory import MemorySink
from tests.unit.agents import builders as b
from tests.unit.agents.test_engine import row_makers

TABLE_NAMES = sorted(row_makers(random.Random(0)))


def truth(rows: dict[tuple[str, Any], Any]) -> dict[str, Any]:
    """The aggregates recomputed from scratch from the rows the generator says exist now."""
    engine = Engine(FixedClock(b.T0))
    for (table, key), row in rows.items():
        if row is not None:
            engine.load(table, key, project(table, row), 0)
    engine.rebuild()
    return engine.aggregates.snapshot()


def written(sink: MemorySink) -> dict[str, Any]:
    """The cells a reader of the sink sees, shaped as the engine's snapshot."""
    return {f.name: {f.from_columns(tuple(r[k] for k in f.key_names)): [r[m] for m in f.measures]
                     for r in sink.latest(f.table)} for f in FAMILIES.values()}


def current(sink: MemorySink) -> dict[tuple[str, Any], dict[str, Any]]:
    """The live current-state rows a reader of the sink sees, without their version columns."""
    found = {}
    for table in TABLE_NAMES:
        key = TABLES[table].primary_key[0]
        for row in sink.latest(current_table(table)):
            found[(table, row[key])] = {k: v for k, v in row.items() if not k.startswith("_")}
    return found


class EngineMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[tuple[str, Any], Any] = {}  # the source database now (the generator's truth)
        self.log: list[Change] = []  # every change ever emitted, in commit order
        self.queues: dict[str, deque[int]] = {t: deque() for t in TABLE_NAMES}  # per table: log positions
        self.delivered: list[int] = []  # log positions applied since the last stage
        self.staged: list[tuple[Staged, list[int]]] = []  # staged, not yet committed (oldest first)
        self.committed: list[int] = []  # log positions whose effect the store holds
        self.store = MemoryStore()
        self.sink = MemorySink()
        self.engine = self._open()

    def _open(self) -> Engine:
        engine = Engine(FixedClock(b.T0), store=self.store, cache_entries=2)
        self.write(lost_cells(engine, self.sink, engine.resume()))
        return engine

    def write(self, out: Output) -> None:
        for table, rows in out.rows.items():
            self.sink.add(table, rows)
        self.sink.flush()

    @rule(edits=st.lists(st.tuples(st.sampled_from(TABLE_NAMES), st.integers(1, 2), st.integers(0, 2**16),
                                    st.integers(0, 4)), min_size=1, max_size=8))
    def transaction(self, edits: list[tuple[str, int, int, int]]) -> None:
        """Some rows inserted, updated or deleted (one in five edits of an existing row deletes it)."""
        for table, key, seed, dice in edits:
            self.change(table, key, seed, delete=dice == 0)

    def change(self, table: str, key: int, seed: int, delete: bool) -> None:
        new = row_makers(random.Random(seed))[table](key)
        key = getattr(new, TABLES[table].primary_key[0])
        old = self.rows.get((table, key))
        if delete and old is not None:
            new = None
        if old is None and new is None:
            return
        self.rows[(table, key)] = new
        self.log.append(b.change(table, old, new))
        self.queues[table].append(len(self.log) - 1)

    @precondition(lambda self: any(self.queues.values()))
    @rule(picks=st.lists(st.sampled_from(TABLE_NAMES), min_size=1, max_size=12))
    def deliver(self, picks: list[str]) -> None:
        """One batch: the next change of each picked table, in the order picked (tables interleave freely)."""
        batch = [self.queues[t].popleft() for t in picks if self.queues[t]]
        self.write(self.engine.apply([self.log[i] for i in batch]))
        self.delivered += batch

    @precondition(lambda self: any(self.queues.values()))
    @rule(seed=st.integers(0, 2**16))
    def drain(self, seed: int) -> None:
        """Everything on its way arrives, tables interleaved at random, in one batch."""
        waiting = [t for t in TABLE_NAMES for _ in self.queues[t]]
        random.Random(seed).shuffle(waiting)
        self.deliver(waiting)

    @rule()
    def stage(self) -> None:
        """A batch's state is staged when it is applied; its commit waits for its data (overlapped writes)."""
        self.staged.append((self.engine.stage(), self.delivered))
        self.delivered = []

    @precondition(lambda self: self.staged)
    @rule()
    def commit_oldest(self) -> None:
        staged, positions = self.staged.pop(0)
        self.committed += positions
        self.engine.commit(staged, {("t", 0): len(self.committed)})

    def staged_positions(self) -> list[int]:
        return [p for _, positions in self.staged for p in positions]

    @rule(picks=st.lists(st.integers(0, 10**6), max_size=6))
    def replay(self, picks: list[int]) -> None:
        """Already-applied changes, old ones included, arrive again (a replay from an older checkpoint)."""
        done = self.committed + self.staged_positions() + self.delivered
        if done:
            self.write(self.engine.apply([self.log[done[p % len(done)]] for p in picks]))

    @rule()
    def crash_and_restart(self) -> None:
        """A kill -9: what was applied but not committed is lost, and Kafka delivers it again."""
        for position in sorted(self.staged_positions() + self.delivered, reverse=True):
            self.queues[self.log[position].table].appendleft(position)
        self.staged, self.delivered = [], []
        self.engine = self._open()

    @invariant()
    def equals_the_truth_once_everything_is_delivered(self) -> None:
        if any(self.queues.values()):
            return
        expected = truth(self.rows)
        assert self.engine.aggregates.snapshot() == expected
        assert written(self.sink) == expected
        assert current(self.sink) == {k: row.model_dump() for k, row in self.rows.items() if row is not None}

    def teardown(self) -> None:
        """Deliver what is still on its way, restart once more, and compare."""
        self.deliver([t for t in TABLE_NAMES for _ in self.queues[t]])
        while self.staged:
            self.commit_oldest()
        self.stage()
        self.commit_oldest()
        self.engine = self._open()
        assert self.engine.aggregates.snapshot() == truth(self.rows)
        assert written(self.sink) == truth(self.rows)
        assert current(self.sink) == {k: row.model_dump() for k, row in self.rows.items() if row is not None}


EngineMachine.TestCase.settings = settings(max_examples=100, stateful_step_count=40, deadline=None,
                                           suppress_health_check=[HealthCheck.too_slow])
test_engine_as_the_worker_drives_it = EngineMachine.TestCase
