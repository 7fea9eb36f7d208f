"""Restart from the engine's own store when it holds a committed state, else from what ClickHouse holds.

Contract for `recover(pipeline, sink)` (called before the worker consumes anything):
0. when the engine's store holds a state committed with positions in this code's layout of families and
   projections (`Engine.stored_positions`) and
   ClickHouse has a checkpoint (it was not dropped for a rebuild), the engine resumes from the store: the
   checkpoint is the store's positions, nothing is loaded or recomputed, so a restart takes seconds
   whatever the history. The store's state is never ahead of ClickHouse's data (the pipeline commits it
   after the data is written), but ClickHouse may be ahead of it: the cells that batches after it wrote
   (newer than the store's last version) are first rewritten as the store holds them, then the replay
   from its positions brings them forward again, in whatever batches it forms.
Otherwise the store is wiped and rebuilt from ClickHouse (a new machine, a lost disk, after a rebuild):
1. the engine's state is loaded from the current-state tables (the rows every aggregate reads);
2. every aggregate is recomputed from that state and compared with the aggregate tables; only the cells
   that differ are written (and cells ClickHouse holds that no longer exist are written as deleted), so
   after a crash between a batch's data and its aggregates the two agree again;
3. the checkpoint (next offset per partition) and the freshness figures are returned/restored, and the
   store is committed at that checkpoint (a crash before then leaves no positions: the next start
   loads again).
The worker then seeks to the checkpoint and replays; replayed changes older than the loaded rows are
skipped by version, newer ones apply normally, so the result is the same as if nothing had crashed.
A sharded engine (`agents.shards`) reads its own shard's checkpoint, freshness and cells and loads only the
rows it keeps; `LayoutMismatch` when ClickHouse holds results of another number of shards (they cannot be
mixed: `make rebuild` recomputes them for the new count).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from agents.engine import Engine, Output
from agents.pipeline import Pipeline, TableFreshness
from agents.projections import PROJECTORS, project
from agents.shards import SHARED_TABLES, Shard
from schemas.outputs import FAMILIES, current_table
from schemas.registry import TABLES
from sinks.base import Sink
from sinks.clickhouse import ClickHouseSink

log = logging.getLogger("luckygas.recovery")


class LayoutMismatch(RuntimeError):
    """ClickHouse holds the results of a different number of worker shards than this worker's."""


@dataclass
class RecoveryReport:
    rows_loaded: int
    cells: int
    corrections: int
    seconds: float
    resumed: bool = False  # from the engine's own store (step 0)


LOAD_COMMIT_ROWS = 50_000  # rows loaded between commits, so what is pinned in memory stays bounded


def load_state(engine: Engine, sink: ClickHouseSink) -> int:
    """Load the projections of every row an aggregate reads; returns the number of rows loaded."""
    loaded = 0
    for table in PROJECTORS:
        spec = TABLES[table]
        rows = sink.query_rows(f"SELECT * EXCEPT (_deleted, _committed_at) FROM `{sink.database}`."
                               f"`{current_table(table)}` FINAL WHERE _deleted = 0")
        for row in rows:
            version = row.pop("_version")
            model = spec.model.model_construct(**row)  # the sink returns aware datetimes
            if not engine.shard.keeps(table, model):
                continue
            projection = project(table, model)
            assert projection is not None
            engine.load(table, row[spec.primary_key[0]], projection, version // 2)
            loaded += 1
            if loaded % LOAD_COMMIT_ROWS == 0:
                engine.commit(engine.stage())
    engine.commit(engine.stage())
    return loaded


def corrections(engine: Engine, sink: ClickHouseSink, rebuilt: Output) -> Output:
    """The rows of `rebuilt` that differ from the aggregate tables, plus deletions of cells ClickHouse
    holds that the rebuilt aggregates do not."""
    out = Output()
    for family in FAMILIES.values():
        stored = {family.from_columns(tuple(r[k] for k in family.key_names)): [r[m] for m in family.measures]
                  for r in sink.latest(family.table, engine.shard.index)}
        for row in rebuilt.rows.get(family.table, []):
            key = family.from_columns(tuple(row[k] for k in family.key_names))
            measures = [row[m] for m in family.measures]
            if stored.pop(key, None) != measures:
                out.add(family.table, row)
        version = engine.next_version()
        for key in stored:
            row = dict(zip(family.key_names, family.to_columns(key), strict=True))
            row.update(dict.fromkeys(family.measures, 0))
            row.update(_version=version, _deleted=1, _updated_at=datetime.now(UTC), shard=engine.shard.index)
            if family.name == "sales":
                row["closed"] = 1
            out.add(family.table, row)
    return out


def lost_cells(engine: Engine, sink: Sink, stored_version: int) -> Output:
    """The cells written after the store's state (by batches whose state was lost in a crash), as that state
    holds them: step 0's replay may never touch them again (see `Engine.rewrite`)."""
    lost = {family.name: [family.from_columns(tuple(r[k] for k in family.key_names))
                          for r in sink.keys_since(family.table, stored_version, engine.shard.index)]
            for family in FAMILIES.values()}
    return engine.rewrite(lost)


def load_checkpoint(sink: Sink, shard: Shard) -> dict[tuple[str, int], int]:
    """This shard's next offset per partition (LayoutMismatch if another shard count wrote any)."""
    rows = sink.latest("stream_offsets")
    counts = sorted({r["shards"] for r in rows} - {shard.count})
    if counts:
        raise LayoutMismatch(f"ClickHouse holds the results of {', '.join(map(str, counts))}-shard streaming "
                             f"workers; this worker is {shard}. Run `make rebuild` with LG_WORKER__SHARDS="
                             f"{shard.count} to recompute them, or start the workers with the count they had")
    return {(r["topic"], r["partition"]): r["next_offset"] for r in rows if r["shard"] == shard.index}


def load_freshness(sink: Sink, shard: int) -> dict[str, TableFreshness]:
    def ms(value: datetime | None) -> int | None:
        return None if value is None else int(value.timestamp() * 1000)

    return {r["source_table"]: TableFreshness(ms(r["last_commit_at"]), ms(r["last_visible_at"]), r["last_lag_ms"],
                                              ms(r["caught_up_to"]), r["events_applied"])
            for r in sink.latest("freshness", shard)}


def _replayable(pipeline: Pipeline, checkpoint: dict[tuple[str, int], int]) -> dict[tuple[str, int], int]:
    """Where a full recovery replays from. A shard's shared rows (orders, master data) were loaded as their
    owners wrote them, possibly BEHIND this shard's checkpoint: their topics are replayed from the start
    (what is older than a loaded row is skipped by version), so no change of theirs is missed."""
    if pipeline.engine.shard.whole:
        return checkpoint
    return {tp: offset for tp, offset in checkpoint.items()
            if pipeline.topic_table.get(tp[0]) not in SHARED_TABLES}


async def recover(pipeline: Pipeline, sink: ClickHouseSink) -> RecoveryReport:
    """Steps 1–3 of the module contract; leaves the checkpoint and freshness in `pipeline`."""
    started = time.perf_counter()
    engine = pipeline.engine
    checkpoint = load_checkpoint(sink, engine.shard)
    pipeline.freshness = load_freshness(sink, engine.shard.index)
    stored = engine.stored_positions()
    if stored is not None and checkpoint:
        pipeline.checkpoint = stored
        undone = await pipeline.write_output(lost_cells(engine, sink, engine.resume()), engine.stage())
        report = RecoveryReport(0, 0, undone, time.perf_counter() - started, resumed=True)
        log.info("resumed from the engine's store at %d positions in %.1fs (%d cells of lost batches undone)",
                 len(stored), report.seconds, undone)
        return report
    engine.wipe()
    loaded = load_state(engine, sink)
    rebuilt = engine.rebuild()
    engine.commit(engine.stage())
    fixes = corrections(engine, sink, rebuilt)
    pipeline.checkpoint = _replayable(pipeline, checkpoint)
    written = await pipeline.write_output(fixes, engine.stage())
    report = RecoveryReport(loaded, engine.aggregates.size(), written, time.perf_counter() - started)
    log.info("recovered %d rows, %d aggregate cells, %d corrections written in %.1fs",
             report.rows_loaded, report.cells, report.corrections, report.seconds)
    return report
