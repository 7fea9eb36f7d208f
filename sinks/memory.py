"""An in-memory sink: the test double for the ClickHouse sink, with the same replacing semantics."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from sinks.base import Row, Sink
from sinks.ddl import TableDef

_MONTH_PARTITION = re.compile(r"toYYYYMM\((?:assumeNotNull\()?`(\w+)`")


def _partition(definition: TableDef, row: Row) -> Any:
    """The month partition a row lands in (None for an unpartitioned table), as `toYYYYMM` computes it."""
    found = _MONTH_PARTITION.match(definition.partition_by or "")
    if found is None:
        return None
    value = row[found.group(1)]
    if isinstance(value, datetime):
        value = value.astimezone(UTC)
    return None if value is None else (value.year, value.month)


class MemorySink(Sink):
    """Keeps every written row per table; `latest` deduplicates like ReplacingMergeTree FINAL as our profiles
    read it: within each month partition (`do_not_merge_across_partitions_select_final`), so a row moved to
    another month shows twice unless its old month holds a deletion of it."""

    def __init__(self, defs: dict[str, TableDef] | None = None) -> None:
        super().__init__(defs)
        self.written: dict[str, list[Row]] = {}
        self.batches = 0

    def write_batch(self, definition: TableDef, rows: list[Row]) -> None:
        self.written.setdefault(definition.name, []).extend(rows)
        self.batches += 1

    def latest(self, table: str, shard: int | None = None) -> list[Row]:
        definition = self.defs[table]
        rows = [r for r in self.written.get(table, []) if shard is None or r.get("shard", 0) == shard]
        if not definition.versioned:
            return [dict(r) for r in rows]
        winners: dict[tuple[object, ...], Row] = {}
        for row in rows:  # later rows win ties, as the last inserted row does in ClickHouse
            key = (_partition(definition, row), *(row[k] for k in definition.keys))
            held = winners.get(key)
            if held is None or row["_version"] >= held["_version"]:
                winners[key] = row
        return [dict(r) for r in winners.values() if not r["_deleted"]]

    def keys_since(self, table: str, version: int, shard: int) -> list[Row]:
        keys = self.defs[table].keys
        found = {tuple(r[k] for k in keys): None for r in self.written.get(table, [])
                 if r["_version"] > version and r.get("shard", 0) == shard}
        return [dict(zip(keys, key, strict=True)) for key in found]
