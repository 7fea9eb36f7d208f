"""Decode raw Kafka records of the captured tables into typed change envelopes.

Contract: `ChangeDecoder.decode` returns a validated `ChangeEnvelope` for a change, or `None` for a
tombstone (a null value Kafka uses after a delete for compaction). Anything else that is not a valid
change of a known table raises `MalformedChange`, which names the topic, partition, offset and the
reason, so the caller can route the raw bytes to a dead-letter topic and carry on.

Upstream schema drift (schemas/drift.py): a record whose only fault is columns the row model does not know
(the legacy team added a column) is decoded anyway, the added values ignored, and recorded per table in
`ChangeDecoder.drift` (with one WARNING per table and new column). A record missing a column of the model
or carrying a value of another type stays a `MalformedChange` whose reason names the column ("removed
upstream?" / "retyped upstream?"), and is counted per table in `ChangeDecoder.broken`. Clean records take
the strict path only: one validation, as before.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter
from pydantic import BaseModel, ValidationError

from infra.clock import Clock, SystemClock
from schemas.drift import TableBreakage, TableDrift, added_columns, column_problems, lenient_row_model
from schemas.envelope import ChangeEnvelope, Heartbeat
from schemas.registry import TABLES, TableSpec

log = logging.getLogger("luckygas.schemas")

_MAX_REASONS = 5


class MalformedChange(ValueError):
    """A record that is not a valid change of a captured table."""

    def __init__(self, topic: str, partition: int, offset: int, reason: str) -> None:
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.reason = reason
        super().__init__(f"malformed change at {topic}[{partition}]@{offset}: {reason}")


def _join(parts: list[str], total: int) -> str:
    shown = parts[:_MAX_REASONS]
    more = total - len(shown)
    return "; ".join(shown) + (f" (+{more} more)" if more > 0 else "")


def _short_reason(error: ValidationError) -> str:
    parts = []
    for item in error.errors(include_url=False)[:_MAX_REASONS]:
        where = ".".join(str(p) for p in item["loc"]) or "(record)"
        parts.append(f"{where}: {item['msg']}")
    return _join(parts, error.error_count())


@dataclass
class ChangeDecoder:
    """Decodes records of the topics `<prefix>.<schema>.<table>` for every captured table.

    `drift` (table -> TableDrift) and `broken` (table -> TableBreakage) only grow; they are read by the
    worker's status and /health. With `registry`, the counters `lg_stream_schema_drift_records` and
    `lg_stream_schema_broken_records` (by table) are registered there; without, in a private registry (in
    prometheus multiprocess mode the values still reach the shared directory).
    """

    prefix: str
    clock: Clock = field(default_factory=SystemClock)
    registry: CollectorRegistry | None = None
    drift: dict[str, TableDrift] = field(init=False, default_factory=dict)
    broken: dict[str, TableBreakage] = field(init=False, default_factory=dict)
    _envelopes: dict[str, tuple[TableSpec, type[ChangeEnvelope[Any]]]] = field(init=False, repr=False)
    _lenient: dict[str, type[ChangeEnvelope[Any]]] = field(init=False, repr=False, default_factory=dict)
    _drift_counter: Counter = field(init=False, repr=False)
    _broken_counter: Counter = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # Parametrised once per table: pydantic builds one validator each, reused for every record.
        self._envelopes = {
            f"{self.prefix}.{name}": (spec, ChangeEnvelope[spec.model])  # type: ignore[name-defined]
            for name, spec in TABLES.items()
        }
        registry = self.registry if self.registry is not None else CollectorRegistry()
        self._drift_counter = Counter("lg_stream_schema_drift_records",
                                      "Changes decoded although they carry columns added upstream (ignored)",
                                      ["table"], registry=registry)
        self._broken_counter = Counter("lg_stream_schema_broken_records",
                                       "Changes dead-lettered because a column is missing or retyped upstream",
                                       ["table"], registry=registry)

    @property
    def topics(self) -> list[str]:
        return sorted(self._envelopes)

    def table_of(self, topic: str) -> TableSpec | None:
        entry = self._envelopes.get(topic)
        return entry[0] if entry else None

    def decode(self, topic: str, value: bytes | None, *, partition: int = 0, offset: int = -1
               ) -> ChangeEnvelope[BaseModel] | None:
        """The change in `value`; None for a tombstone; MalformedChange for anything else."""
        entry = self._envelopes.get(topic)
        if entry is None:
            raise MalformedChange(topic, partition, offset, "unknown topic: not a captured table")
        if value is None:
            return None
        spec, envelope_type = entry
        added: set[str] | None = None
        try:
            envelope = envelope_type.model_validate_json(value)
        except ValidationError as error:
            envelope, added = self._decode_drifted(spec, value, error, topic, partition, offset)
            envelope = _as_strict(envelope_type, spec.model, envelope)
        source = envelope.source
        if f"{source.schema_name}.{source.table}" != spec.name:
            raise MalformedChange(topic, partition, offset,
                                  f"source table {source.schema_name}.{source.table} does not match topic")
        if added:
            self._record_drift(spec.name, added)
        return envelope

    def _decode_drifted(self, spec: TableSpec, value: bytes, error: ValidationError, topic: str, partition: int,
                        offset: int) -> tuple[ChangeEnvelope[Any], set[str]]:
        """The slow path, after the strict model refused `value`: decoded leniently if the only fault is
        added columns; otherwise MalformedChange, which names the columns and is counted in `broken` when
        every fault is a row column (a record broken elsewhere keeps the generic reason, uncounted)."""
        errors = error.errors(include_url=False)
        added = added_columns(errors)
        if added is not None:
            try:
                return self._lenient_envelope(spec).model_validate_json(value), added
            except ValidationError as lenient_error:
                raise MalformedChange(topic, partition, offset, _short_reason(lenient_error)) from None
        found = column_problems(errors)
        if found is None:
            raise MalformedChange(topic, partition, offset, _short_reason(error)) from None
        problems, columns = found
        reason = _join(problems, len(problems))
        self.broken.setdefault(spec.name, TableBreakage(spec.name)).record(reason, columns, self.clock.now())
        self._broken_counter.labels(spec.name).inc()
        raise MalformedChange(topic, partition, offset, reason) from None

    def _lenient_envelope(self, spec: TableSpec) -> type[ChangeEnvelope[Any]]:
        # Built on first need, once per table: most tables never drift, and each costs a validator build.
        lenient = self._lenient.get(spec.name)
        if lenient is None:
            row_model = lenient_row_model(spec.model)
            lenient = self._lenient[spec.name] = ChangeEnvelope[row_model]  # type: ignore[valid-type]
        return lenient

    def _record_drift(self, table: str, added: set[str]) -> None:
        drift = self.drift.setdefault(table, TableDrift(table))
        for column in sorted(drift.record(added, self.clock.now())):
            log.warning("%s has a column the row model does not know: %r (added upstream?); its values are "
                        "ignored until schemas/tables and the ClickHouse migrations catch up", table, column)
        self._drift_counter.labels(table).inc()


def _as_strict(envelope_type: type[ChangeEnvelope[Any]], model: type[BaseModel],
               lenient: ChangeEnvelope[Any]) -> ChangeEnvelope[BaseModel]:
    """The leniently decoded change as instances of the table's own classes (already validated: constructed
    without a second validation), so it compares and serialises like any other change of that table."""
    def strict(row: BaseModel | None) -> BaseModel | None:
        return None if row is None else model.model_construct(**dict(row))

    fields = {name: getattr(lenient, name) for name in type(lenient).model_fields}
    fields.update(before=strict(lenient.before), after=strict(lenient.after))
    return envelope_type.model_construct(**fields)


def decode_heartbeat(topic: str, value: bytes | None, *, partition: int = 0, offset: int = -1) -> Heartbeat:
    """A Debezium heartbeat record; MalformedChange if it is not one."""
    if value is None:
        raise MalformedChange(topic, partition, offset, "empty heartbeat")
    try:
        return Heartbeat.model_validate_json(value)
    except ValidationError as error:
        raise MalformedChange(topic, partition, offset, _short_reason(error)) from None
