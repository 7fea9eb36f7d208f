"""The sink contract: one suite every sink implementation passes (memory here, ClickHouse in integration).

A subclass provides `make_sink(defs)`, returning an empty sink whose tables exist.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from sinks.base import Sink, SinkError
from sinks.ddl import VERSION_COLUMNS, TableDef

ITEMS = TableDef("contract_items", (("id", "Int64"), ("name", "String"), ("amount", "Decimal(18, 4)"),
                                    ("at", "DateTime64(3, 'UTC')"), *VERSION_COLUMNS), ("id",))
LOG = TableDef("contract_log", (("seq", "Int64"), ("text", "String")), ("seq",), versioned=False)
CELLS = TableDef("contract_cells", (("k", "String"), ("n", "Int64"), *VERSION_COLUMNS, ("shard", "UInt16")),
                 ("k", "shard"))
MOVES = TableDef("contract_moves", (("id", "Int64"), ("day", "Date32"), *VERSION_COLUMNS), ("id",),
                 partition_by="toYYYYMM(`day`)")
DEFS = {ITEMS.name: ITEMS, LOG.name: LOG, CELLS.name: CELLS, MOVES.name: MOVES}
AT = datetime(2026, 11, 30, 1, 2, 3, tzinfo=UTC)


def item(id_: int, name: str, version: int, deleted: int = 0, amount: str = "1.50") -> dict[str, Any]:
    return {"id": id_, "name": name, "amount": Decimal(amount), "at": AT, "_version": version, "_deleted": deleted}


def by_id(rows: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {r["id"]: r for r in rows}


class SinkContract:
    def make_sink(self, defs: dict[str, TableDef]) -> Sink:
        raise NotImplementedError

    @pytest.fixture
    def sink(self) -> Sink:
        return self.make_sink(DEFS)

    def test_keys_since_a_version_are_every_newer_write_of_the_shard_once(self, sink: Sink) -> None:
        def cell(k: str, version: int, shard: int = 0, deleted: int = 0) -> dict[str, Any]:
            return {"k": k, "n": version, "_version": version, "_deleted": deleted, "shard": shard}

        sink.add(CELLS.name, [cell("old", 3), cell("a", 5), cell("a", 6), cell("gone", 7, deleted=1),
                              cell("other", 9, shard=1), cell("edge", 4)])
        sink.flush()
        assert sorted(r["k"] for r in sink.keys_since(CELLS.name, 4, 0)) == ["a", "gone"]
        assert sink.keys_since(CELLS.name, 4, 1) == [{"k": "other", "shard": 1}]

    def test_each_month_partition_is_deduplicated_alone(self, sink: Sink) -> None:
        """As our profiles read FINAL: a row moved to another month needs a deletion in its old one."""
        def row(id_: int, month: int, version: int, deleted: int = 0) -> dict[str, Any]:
            return {"id": id_, "day": date(2026, month, 15), "_version": version, "_deleted": deleted}

        sink.add(MOVES.name, [row(1, 1, 1), row(2, 1, 1), row(1, 3, 5), row(2, 1, 4, deleted=1), row(2, 3, 5)])
        sink.flush()
        assert sorted((r["id"], r["day"].month) for r in sink.latest(MOVES.name)) == [(1, 1), (1, 3), (2, 3)]

    def test_nothing_visible_before_flush(self, sink: Sink) -> None:
        sink.add(ITEMS.name, [item(1, "a", 1)])
        assert sink.pending == 1
        assert sink.latest(ITEMS.name) == []
        assert sink.flush() == 1
        assert sink.pending == 0
        assert [r["name"] for r in sink.latest(ITEMS.name)] == ["a"]

    def test_highest_version_wins_whatever_the_order(self, sink: Sink) -> None:
        sink.add(ITEMS.name, [item(1, "new", 5), item(2, "only", 1)])
        sink.flush()
        sink.add(ITEMS.name, [item(1, "old", 3)])  # a replay of an older change
        sink.flush()
        rows = by_id(sink.latest(ITEMS.name))
        assert rows[1]["name"] == "new" and rows[2]["name"] == "only"
        assert rows[1]["amount"] == Decimal("1.50") and rows[1]["at"] == AT

    def test_deleted_rows_disappear_and_can_come_back(self, sink: Sink) -> None:
        sink.add(ITEMS.name, [item(1, "a", 1), item(2, "b", 1)])
        sink.add(ITEMS.name, [item(1, "a", 2, deleted=1)])
        sink.flush()
        assert set(by_id(sink.latest(ITEMS.name))) == {2}
        sink.add(ITEMS.name, [item(1, "again", 3)])
        sink.flush()
        assert by_id(sink.latest(ITEMS.name))[1]["name"] == "again"

    def test_repeated_write_is_idempotent(self, sink: Sink) -> None:
        for _ in range(3):
            sink.add(ITEMS.name, [item(7, "same", 4, amount="99.99")])
            sink.flush()
        rows = sink.latest(ITEMS.name)
        assert len(rows) == 1
        assert (rows[0]["name"], rows[0]["amount"]) == ("same", Decimal("99.99"))

    def test_unversioned_table_keeps_every_row(self, sink: Sink) -> None:
        sink.add(LOG.name, [{"seq": 1, "text": "x"}, {"seq": 1, "text": "x"}])
        sink.flush()
        assert len(sink.latest(LOG.name)) == 2

    def test_bad_rows_are_refused_whole(self, sink: Sink) -> None:
        with pytest.raises(SinkError, match="missing \\['name'\\]"):
            sink.add(ITEMS.name, [item(1, "ok", 1), {k: v for k, v in item(2, "x", 1).items() if k != "name"}])
        with pytest.raises(SinkError, match="unknown table"):
            sink.add("no_such_table", [{"a": 1}])
        assert sink.pending == 0
        assert sink.flush() == 0

    def test_empty_flush_writes_nothing(self, sink: Sink) -> None:
        assert sink.flush() == 0
        assert sink.latest(ITEMS.name) == []
