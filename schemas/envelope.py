"""The Debezium change envelope (JsonConverter, schemas disabled) as typed models.

An event carries `op` (c = insert, u = update, d = delete, r = snapshot read), the row `before` and
`after` the change (REPLICA IDENTITY FULL makes `before` complete on updates and deletes), and `source`
(commit time `ts_ms`, WAL position `lsn`, transaction id `txId`, snapshot marker). Consistency between
`op` and the images is checked here, so downstream code can rely on it.
"""

from __future__ import annotations

from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

RowT = TypeVar("RowT", bound=BaseModel)

Op = Literal["c", "u", "d", "r"]

_ENVELOPE_CONFIG = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class Source(BaseModel):
    """Where and when the change happened in PostgreSQL."""

    model_config = _ENVELOPE_CONFIG
    connector: str
    name: str
    ts_ms: int = Field(description="commit time in the source database, ms since epoch")
    snapshot: str | None = None
    db: str
    schema_name: str = Field(alias="schema")
    table: str
    tx_id: int | None = Field(default=None, alias="txId")
    lsn: int | None = None
    sequence: str | None = None

    @property
    def is_snapshot(self) -> bool:
        return self.snapshot not in (None, "false")


class TransactionBlock(BaseModel):
    """Debezium transaction metadata (provide.transaction.metadata=true)."""

    model_config = _ENVELOPE_CONFIG
    id: str
    total_order: int
    data_collection_order: int


class ChangeEnvelope(BaseModel, Generic[RowT]):
    """One row change. Invariants: c/r have only `after`; d has only `before`; u has both."""

    model_config = _ENVELOPE_CONFIG
    before: RowT | None = None
    after: RowT | None = None
    source: Source
    op: Op
    ts_ms: int = Field(description="when Debezium processed the change, ms since epoch")
    transaction: TransactionBlock | None = None

    @model_validator(mode="after")
    def _images_match_op(self) -> ChangeEnvelope[RowT]:
        if self.op in ("c", "r") and (self.after is None or self.before is not None):
            raise ValueError(f"op {self.op!r} needs an after-image and no before-image")
        if self.op == "d" and (self.before is None or self.after is not None):
            raise ValueError("op 'd' needs a before-image and no after-image")
        if self.op == "u" and (self.before is None or self.after is None):
            raise ValueError("op 'u' needs both images (is REPLICA IDENTITY FULL set?)")
        return self

    @property
    def position(self) -> tuple[int, int]:
        """A total order of changes for idempotent apply: (commit LSN, order in transaction)."""
        order = self.transaction.total_order if self.transaction is not None else 0
        return (self.source.lsn or 0, order)


class Heartbeat(BaseModel):
    """A Debezium heartbeat: proves the connector is alive and caught up to `ts_ms`."""

    model_config = _ENVELOPE_CONFIG
    ts_ms: int
