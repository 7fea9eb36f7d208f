"""Compare what the stream wrote to ClickHouse with the truth recomputed from PostgreSQL.

Contract: `differences(settings)` returns every difference: per aggregate family, each cell whose measures
differ or that exists on one side only; per source table, a live-row count that differs. Cells whose
measures are all zero do not exist (the engine deletes them), on either side.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import psycopg

from infra.clickhouse.runner import get_client
from infra.clock import SystemClock, business_day
from infra.settings import StackSettings
from infra.verify.truth import TRUTH
from schemas.outputs import FAMILIES, current_table
from schemas.registry import TABLES
from sinks.clickhouse import ClickHouseSink

Cells = dict[tuple[Any, ...], list[int]]


@dataclass(frozen=True)
class Difference:
    what: str  # an aggregate family or "rows:<table>"
    key: tuple[Any, ...]
    truth: list[int] | None
    stream: list[int] | None

    def __str__(self) -> str:
        return f"{self.what} {self.key}: truth={self.truth} stream={self.stream}"


def truth_cells(conn: psycopg.Connection[Any], family: str, today: date) -> Cells:
    width = len(FAMILIES[family].keys)
    cells: Cells = {}
    for row in conn.execute(TRUTH[family], {"today": today} if "%(today)s" in TRUTH[family] else None):
        measures = [int(v) for v in row[width:]]
        if any(measures):
            cells[tuple(row[:width])] = measures
    return cells


def stream_cells(sink: ClickHouseSink, family: str) -> Cells:
    """The family's cells as the views show them: each the sum of the worker shards' parts."""
    f = FAMILIES[family]
    cells: Cells = {}
    for r in sink.latest(f.table):
        key = f.from_columns(tuple(r[k] for k in f.key_names))
        held = cells.get(key)
        measures = [int(r[m]) for m in f.measures]
        cells[key] = measures if held is None else [h + m for h, m in zip(held, measures, strict=True)]
    return cells


def compare_cells(what: str, truth: Cells, stream: Cells) -> list[Difference]:
    return [Difference(what, key, truth.get(key), stream.get(key))
            for key in sorted(truth.keys() | stream.keys(), key=repr)
            if truth.get(key) != stream.get(key)]


SHOW_KEYS = 5  # keys named per side when a table's row counts differ


def row_counts(conn: psycopg.Connection[Any], sink: ClickHouseSink) -> list[Difference]:
    """Per source table, a live-row count that differs; its key names up to `SHOW_KEYS` primary keys found on
    one side only (`only_truth`, `only_stream`), so a difference says which rows to look at."""
    diffs = []
    for table in TABLES:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        truth = int(row[0]) if row else 0
        stream = sink.query_rows(f"SELECT count() AS n FROM `{sink.database}`.`{current_table(table)}` FINAL "
                                 "WHERE _deleted = 0")[0]["n"]
        if truth != stream:
            diffs.append(Difference(f"rows:{table}", _keys_on_one_side(conn, sink, table), [truth], [int(stream)]))
    return diffs


def _keys_on_one_side(conn: psycopg.Connection[Any], sink: ClickHouseSink, table: str) -> tuple[Any, ...]:
    key = TABLES[table].primary_key[0]
    truth = {r[0] for r in conn.execute(f"SELECT {key} FROM {table}")}
    stream = {r[key] for r in sink.query_rows(f"SELECT `{key}` FROM `{sink.database}`.`{current_table(table)}` "
                                               "FINAL WHERE _deleted = 0")}
    return (("only_truth", sorted(truth - stream, key=repr)[:SHOW_KEYS]),
            ("only_stream", sorted(stream - truth, key=repr)[:SHOW_KEYS]))


def differences(settings: StackSettings, conn: psycopg.Connection[Any] | None = None
                ) -> tuple[list[Difference], dict[str, int]]:
    """Every difference, and the number of cells checked per family; the truth is read in `conn`'s snapshot
    (a barrier's, infra/verify/barrier.py) or in a REPEATABLE READ snapshot of its own."""
    if conn is None:
        with psycopg.connect(settings.postgres.dsn()) as own:
            own.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")  # one snapshot for every query
            return differences(settings, own)
    today = business_day(SystemClock().now())
    sink = ClickHouseSink(get_client(settings), settings.clickhouse.database)
    checked: dict[str, int] = {}
    diffs: list[Difference] = []
    try:
        for family in FAMILIES:
            truth = truth_cells(conn, family, today)
            checked[family] = len(truth)
            diffs += compare_cells(family, truth, stream_cells(sink, family))
        diffs += row_counts(conn, sink)
    finally:
        sink.close()
    return diffs, checked
