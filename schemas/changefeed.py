"""The change feed: what the streaming core changed, per durably written batch, for live screens and alerts.

Contract:
- The worker publishes, once a batch's results are written to ClickHouse and before its checkpoint is, one or more
  messages on the topic `<prefix>.analytics.changes` (`streams.topics.change_feed_topic_name`; one
  partition: one order). Each message is a `FeedMessage` (JSON): the worker's run (`run`: pid and start
  time), the batch's sequence number in that run
  (`seq`, from 1; wall-clock ticks — closed windows, re-aged receivables — count as batches too), its part
  (`part` of `parts`, at most `MAX_ROWS_PER_MESSAGE` rows each), when it was written, the positions it
  brought the worker to (`"topic:partition"` → next offset; unchanged for a tick), and per ClickHouse table
  the rows written: absolute aggregate cells and current rows (orders, dispatches, stock …), exactly as
  stored, `_version` and `_deleted` included, money as decimal strings.
- Delivery is at least once: after a crash the worker replays from its checkpoint and the feed repeats those
  batches (a new `run`). A subscriber applies rows by key keeping the highest `_version`, so a repeat changes
  nothing; on (re)connect, and when it sees a new `run` (a restart's recovery may correct cells without
  announcing them), it reads the current state from ClickHouse and then follows the feed.
- Bookkeeping (`stream_offsets`, `dead_letters`, `freshness`) is left out: `GET /freshness` serves it.
- With several worker shards (agents/shards.py) each shard publishes its own batches (`shard`; its own
  `run` and `seq`); an aggregate row is that shard's part of the cell (its `shard` column): a subscriber
  keeps the newest row per (cell key, shard) and shows the sum over shards, as the ClickHouse views do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict

MAX_ROWS_PER_MESSAGE = 1_000
LEFT_OUT = frozenset({"stream_offsets", "dead_letters", "freshness"})


class FeedMessage(BaseModel):
    """One message of the change feed (see the module contract)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    run: str
    seq: int
    part: int
    parts: int
    written_at: datetime
    positions: dict[str, int]
    tables: dict[str, list[dict[str, Any]]]
    shard: int = 0


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"not JSON-serialisable in the change feed: {type(value).__name__}")


def encode_batch(run: str, seq: int, written_at: datetime, positions: Mapping[tuple[str, int], int],
                 rows: Mapping[str, Sequence[Mapping[str, Any]]],
                 max_rows: int = MAX_ROWS_PER_MESSAGE, shard: int = 0) -> list[bytes]:
    """The feed messages of one written batch, in order; none when it changed no business table."""
    items = [(table, row) for table, table_rows in sorted(rows.items()) if table not in LEFT_OUT
             for row in table_rows]
    if not items:
        return []
    chunks = [items[i:i + max_rows] for i in range(0, len(items), max_rows)]
    where = {f"{topic}:{partition}": offset for (topic, partition), offset in sorted(positions.items())}
    messages = []
    for number, chunk in enumerate(chunks, start=1):
        tables: dict[str, list[Mapping[str, Any]]] = {}
        for table, row in chunk:
            tables.setdefault(table, []).append(row)
        body = {"run": run, "seq": seq, "part": number, "parts": len(chunks), "written_at": written_at,
                "positions": where, "tables": tables, "shard": shard}
        messages.append(orjson.dumps(body, default=_default))
    return messages


def decode_message(value: bytes) -> FeedMessage:
    """A feed message; pydantic's ValidationError when it is not one."""
    return FeedMessage.model_validate_json(value)
