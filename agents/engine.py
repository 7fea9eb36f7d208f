"""The pure heart of the streaming core: apply a batch of changes, say what to write.

Contract:
- `Engine.apply(changes)` applies decoded changes in the order given and returns an `Output`: the
  current-state rows of every changed source row (versioned by LSN, deletions as flagged rows) and the
  ABSOLUTE values of every aggregate cell the batch changed. A change not newer than the state's version of
  its row (a replay after recovery) changes nothing. No I/O happens here: the worker writes the output.
- An update or delete retracts what the old row contributed and adds what the new one does: each affected
  fact root's contribution is captured before its first input changes and recomputed after the batch.
- `tick()` closes sales windows on wall-clock time (end + grace passed) and re-ages receivables when the
  Asia/Taipei business day changes; it returns the rows to write, like `apply`.
- `rebuild()` recomputes every aggregate from the state (after loading it on recovery) and returns every
  cell, so the sink can be corrected wholesale.
- With a `shard` (`agents.shards`), the engine is given every change but keeps only the rows its shard keeps,
  writes only the current rows it owns and counts only its roots: its cells are that shard's part (each
  aggregate row carries `shard`), and the sum over shards equals the single engine's cells.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

from pydantic import BaseModel

from agents.aggregates import Aggregates, bucket_end
from agents.facts import Contribution, contributions
from agents.projections import SHAPES, epoch, project, taipei_day_number
from agents.shards import Shard
from agents.spaces import Space, Spaces, Staged, decode, encode
from agents.state import Root, State
from agents.store import MemoryStore, Store
from infra.clock import Clock
from schemas.envelope import ChangeEnvelope
from schemas.outputs import FAMILIES, SALES, current_table
from schemas.registry import TABLES, TableSpec

Row = dict[str, Any]


@dataclass(frozen=True)
class Change:
    """One decoded change of a captured table."""

    table: str
    envelope: ChangeEnvelope[BaseModel]


@dataclass
class Output:
    """What a batch (or tick) asks the sink to write, by ClickHouse table."""

    rows: dict[str, list[Row]] = field(default_factory=dict)
    applied: int = 0
    stale: int = 0
    newest_commit_ms: dict[str, int] = field(default_factory=dict)
    applied_by_table: dict[str, int] = field(default_factory=dict)
    commit_ms: list[int] = field(default_factory=list)  # per applied change, for commit-to-visible latency

    def add(self, table: str, row: Row) -> None:
        self.rows.setdefault(table, []).append(row)

    @property
    def row_count(self) -> int:
        return sum(len(rows) for rows in self.rows.values())


def _month(value: date | datetime | None) -> tuple[int, int] | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        value = value.astimezone(UTC)
    return (value.year, value.month)


def current_rows(spec: TableSpec, envelope: ChangeEnvelope[BaseModel]) -> list[Row]:
    """The rows that make the current-state table reflect this change.

    Versions are 2·LSN+1 for the change itself; when an update moves a row to another month partition
    (ReplacingMergeTree only deduplicates inside a partition), a deletion of the old image is written into
    the old partition with version 2·LSN, older than the new row but newer than anything before it.
    """
    lsn = envelope.source.lsn or 0
    committed = datetime.fromtimestamp(envelope.source.ts_ms / 1000, UTC)
    rows: list[Row] = []
    before, after = envelope.before, envelope.after
    if after is None:
        assert before is not None
        return [{**before.model_dump(), "_version": 2 * lsn + 1, "_deleted": 1, "_committed_at": committed}]
    if before is not None and spec.business_date is not None:
        old_month = _month(getattr(before, spec.business_date))
        if old_month != _month(getattr(after, spec.business_date)):
            rows.append({**before.model_dump(), "_version": 2 * lsn, "_deleted": 1, "_committed_at": committed})
    rows.append({**after.model_dump(), "_version": 2 * lsn + 1, "_deleted": 0, "_committed_at": committed})
    return rows


class Engine:
    """State, aggregates and the rules that keep them equal to the truth."""

    def __init__(self, clock: Clock, *, close_grace_seconds: int = 60, store: Store | None = None,
                 cache_entries: int = 1_000_000_000, shard: Shard | None = None) -> None:
        self.clock = clock
        self.shard = shard if shard is not None else Shard()
        self.store: Store = store if store is not None else MemoryStore()
        self.cache_entries = cache_entries
        self.close_grace_seconds = close_grace_seconds
        self.today = taipei_day_number(clock.now())
        self._version = 0
        self.version_floor: int | None = None
        self._open_spaces()

    def _open_spaces(self) -> None:
        cache_entries = self.cache_entries
        self.spaces = Spaces(self.store)
        self.state = State(self.spaces, capacity=cache_entries)
        self.aggregates = Aggregates(self.spaces, capacity=cache_entries)
        # Invoices with an outstanding amount: the only ones whose aging moves when the business day does.
        self._open_invoices = Space(self.spaces, OPEN_INVOICES_TAG, cache_entries)
        # Sales cells written while their window was open (small: recent windows only), and the business day.
        self._open_sales_space = Space(self.spaces, OPEN_SALES_TAG, cache_entries)
        self._meta = Space(self.spaces, META_TAG, 16)
        self._open_sales: set[tuple[Any, ...]] = set()

    # -- changes -------------------------------------------------------------------------------------
    def apply(self, changes: Iterable[Change]) -> Output:
        out = Output()
        old: dict[Root, Contribution] = {}
        for change in changes:
            self._apply_one(change, old, out)
        self._settle(old)
        self._emit(out)
        return out

    def load(self, table: str, key: Any, projection: tuple[Any, ...], version: int) -> None:
        """Put a row read back from the sink (recovery) without computing any contribution."""
        self.state.put(table, key, projection, version)

    def _apply_one(self, change: Change, old: dict[Root, Contribution], out: Output) -> None:
        spec = TABLES[change.table]
        env = change.envelope
        image = env.after if env.after is not None else env.before
        assert image is not None
        key = getattr(image, spec.primary_key[0])
        lsn = env.source.lsn or 0
        projected = change.table in _PROJECTED
        if projected and self.state.is_stale(change.table, key, lsn):
            out.stale += 1
            return
        shard = self.shard
        if shard.writes_current(change.table, image):
            for row in current_rows(spec, env):
                out.add(current_table(change.table), row)
        out.applied += 1
        out.applied_by_table[change.table] = out.applied_by_table.get(change.table, 0) + 1
        out.commit_ms.append(env.source.ts_ms)
        newest = out.newest_commit_ms.get(change.table, 0)
        out.newest_commit_ms[change.table] = max(newest, env.source.ts_ms)
        if not projected:
            return
        new = project(change.table, env.after) if env.after is not None and shard.keeps(change.table, env.after) \
            else None
        before = self.state.get(change.table, key)
        if before is None and new is None and not shard.keeps(change.table, image):
            return  # another shard's row (one moving away from here is retracted: `before` is held)
        if before != new:
            for root in self.state.dependents(change.table, key, before, new):
                if root not in old and shard.owns_root(root):
                    old[root] = contributions(self.state, root, self.today)
        self.state.put(change.table, key, new, lsn)

    def _settle(self, old: dict[Root, Contribution]) -> None:
        """Add each root's new contribution minus its old one."""
        for root, previous in old.items():
            current = contributions(self.state, root, self.today)
            self._replace(previous, current)
            if root[0] == "invoice":
                self._note_open(root[1], current)

    def _note_open(self, invoice_id: Any, current: Contribution) -> None:
        is_open = any(family == "receivables" and values[2] != 0 for (family, _), values in current.items())
        if is_open != (self._open_invoices.get(invoice_id) is not None):
            self._open_invoices.put(invoice_id, True if is_open else None)

    def _replace(self, previous: Contribution, current: Contribution) -> None:
        """Swap one contribution for another; cells whose share did not change are not touched (an order's
        status change leaves its 28 sales cells alone), so they are not rewritten."""
        if current == previous:
            return
        add = self.aggregates.add
        for cell, values in previous.items():
            now = current.get(cell)
            if now is None:
                add(cell[0], cell[1], values, -1)
            elif now != values:
                add(cell[0], cell[1], [n - v for n, v in zip(now, values, strict=True)], +1)
        for cell, values in current.items():
            if cell not in previous:
                add(cell[0], cell[1], values, +1)

    # -- wall clock ----------------------------------------------------------------------------------
    def tick(self) -> Output:
        """Close sales windows whose end + grace has passed; re-age receivables on a new business day."""
        now = self.clock.now()
        out = Output()
        today = taipei_day_number(now)
        if today != self.today:
            self._reage(today)
        deadline = epoch(now) - self.close_grace_seconds
        for key in [k for k in self._open_sales if bucket_end(k[0], k[1]) <= deadline]:
            self.aggregates.touch(SALES.name, key)
        self._emit(out)
        return out

    def _reage(self, today: int) -> None:
        """Move the business day on: only open invoices age (a settled one's aging is all zeros whatever the
        day), so this costs what is open, not what was ever issued."""
        before, self.today = self.today, today
        self._meta.put("today", today)
        for invoice_id in [key for key, _ in self._open_invoices.entries()]:
            root = ("invoice", invoice_id)
            self._replace(contributions(self.state, root, before), contributions(self.state, root, today))

    def rebuild(self) -> Output:
        """Recompute every aggregate from the state, and emit every cell (and every emptied one)."""
        self._recompute(tuple(_ROOT_TABLES), tuple(FAMILIES))
        out = Output()
        self._emit(out)
        return out

    def _recompute(self, kinds: tuple[str, ...], families: tuple[str, ...]) -> None:
        """Reset `families` and add back the contributions of every root of `kinds` (which must be all the
        roots feeding those families)."""
        for family in families:
            self.aggregates.clear_family(family)
        if "invoice" in kinds:
            self._open_invoices.clear()
        for kind in kinds:
            for key in list(self.state.keys(_ROOT_TABLES[kind])):
                if not self.shard.owns_root((kind, key)):
                    continue
                current = contributions(self.state, (kind, key), self.today)
                for (family, cell_key), values in current.items():
                    self.aggregates.add(family, cell_key, values, +1)
                if kind == "invoice":
                    self._note_open(key, current)

    # -- the store ---------------------------------------------------------------------------------
    def stage(self) -> Staged:
        """Snapshot what the last batch (or tick) changed, for `commit` once its output is written."""
        if self._meta.get("today") != self.today:
            self._meta.put("today", self.today)
        if self._meta.get("version") != self._version:  # the newest version the staged output carries
            self._meta.put("version", self._version)
        return self.spaces.stage()

    def commit(self, staged: Staged, positions: dict[tuple[str, int], int] | None = None) -> None:
        """Write a staged snapshot to the store, with the Kafka positions it reaches (atomically)."""
        meta = [] if positions is None else [(POSITIONS_KEY, encode(sorted(
            (topic, partition, offset) for (topic, partition), offset in positions.items()))),
            (LAYOUT_KEY, layout())]
        self.spaces.commit(staged, meta)

    def stored_positions(self) -> dict[tuple[str, int], int] | None:
        """The positions the store's state was committed at, or None when it holds no committed state, or
        one kept in another layout (the families or projections changed since: it must be rebuilt), or one
        without the newest version it produced (`resume`)."""
        raw = self.store.get(POSITIONS_KEY)
        stored_layout = self.store.get(LAYOUT_KEY)
        if raw is None or stored_layout != layout() or self._meta.get("version") is None:
            return None  # the version: a store written before it was kept cannot tell which cells are newer
        return {(topic, partition): offset for topic, partition, offset in decode(raw)}

    def resume(self) -> int:
        """Take up the business day and the open sales windows the store holds (after a restart); returns
        the newest version of any output the stored state had produced: cells written with a newer one
        came from batches whose state was lost (see `rewrite`)."""
        stored_day = self._meta.get("today")
        if stored_day is not None:
            self.today = stored_day
        self._open_sales = {key for key, _ in self._open_sales_space.entries()}
        version: int = self._meta.get("version") or 0  # set whenever `stored_positions` is not None
        self._version = max(self._version, version)
        return version

    def rewrite(self, cells: Mapping[str, Iterable[tuple[Any, ...]]]) -> Output:
        """Rows for these cells as the state holds them (deleted if it holds none), with a new version: what
        undoes cells a lost batch wrote, since replaying its changes in other batches may never touch them
        again (a line added in one batch and removed in the next nets to nothing when both replay together)."""
        for family, keys in cells.items():
            for key in keys:
                self.aggregates.touch(family, key)
        out = Output()
        self._emit(out)
        return out

    def use_store(self, store: Store, *, cache_entries: int) -> None:
        """Keep the state in `store` from now on, with at most `cache_entries` per space in memory (before
        anything is applied: what memory held is dropped)."""
        self.store, self.cache_entries = store, cache_entries
        self._open_spaces()

    def wipe(self) -> None:
        """Forget everything the store holds (the next recovery loads from ClickHouse)."""
        self.store.wipe()
        self.today = taipei_day_number(self.clock.now())
        self._open_spaces()

    # -- output --------------------------------------------------------------------------------------
    def next_version(self) -> int:
        """A version newer than every one given before: in this process; and, with a `version_floor` (the
        worker's lease epoch, `agents.lease`), newer than any earlier epoch's; without one, by the clock."""
        floor = time.time_ns() if self.version_floor is None else self.version_floor
        self._version = max(self._version + 1, floor)
        return self._version

    def _emit(self, out: Output) -> None:
        touched = self.aggregates.take_touched()
        if not touched:
            return
        version = self.next_version()
        updated = self.clock.now()
        deadline = epoch(updated) - self.close_grace_seconds
        for family_name, keys in touched.items():
            family = FAMILIES[family_name]
            for key in keys:
                values = self.aggregates.get(family_name, key)
                row: Row = dict(zip(family.key_names, family.to_columns(key), strict=True))
                measures = values if values is not None else [0] * len(family.measures)
                row.update(zip(family.measures, measures, strict=True))
                row.update(_version=version, _deleted=int(values is None), _updated_at=updated, shard=self.shard.index)
                if family is SALES:
                    closed = bucket_end(key[0], key[1]) <= deadline
                    row["closed"] = int(closed)
                    if closed or values is None:
                        if key in self._open_sales:
                            self._open_sales.discard(key)
                            self._open_sales_space.put(key, None)
                    elif key not in self._open_sales:
                        self._open_sales.add(key)
                        self._open_sales_space.put(key, True)
                out.add(family.table, row)


# Store tags of the engine's own spaces, and of the positions its state was committed at (persisted).
OPEN_INVOICES_TAG = 96
OPEN_SALES_TAG = 97
META_TAG = 98
POSITIONS_KEY = bytes([255]) + b"positions"
LAYOUT_KEY = bytes([255]) + b"layout"


@cache
def layout() -> bytes:
    """What the store's contents are made of, encoded: every family's keys and measures, every projection's
    fields (fixed for the process, so built once)."""
    return encode([[[f.name, list(f.key_names), list(f.measures)] for f in FAMILIES.values()],
                   [[table, list(shape._fields)] for table, shape in sorted(SHAPES.items())]])  # type: ignore[attr-defined]

_ROOT_TABLES: dict[str, str] = {
    "order": "w200.order_master",
    "invoice": "w500.invoice_header",
    "payment": "w500.payment_record",
    "movement": "w300.stock_movement",
    "stock": "w300.warehouse_stock",
    "dispatch": "w700.dispatch_master",
}

_PROJECTED: frozenset[str] = frozenset(
    ["w200.order_master", "w200.order_detail", "w110.product_master", "w100.customer_master", "w110.branch",
     "w500.invoice_header", "w500.payment_record", "w300.stock_movement", "w300.warehouse_stock",
     "w700.dispatch_master", "w700.route_detail", "w700.driver_assignment"]
)
