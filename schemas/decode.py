"""Decode raw Kafka records of the captured tables into typed change envelopes.

Contract: `ChangeDecoder.decode` returns a validated `ChangeEnvelope` for a change, or `None` for a
tombstone (a null value Kafka uses after a delete for compaction). Anything else that is not a valid
change of a known table raises `MalformedChange`, which names the topic, partition, offset and the
reason, so the caller can route the raw bytes to a dead-letter topic and carry on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from schemas.envelope import ChangeEnvelope, Heartbeat
from schemas.registry import TABLES, TableSpec


class MalformedChange(ValueError):
    """A record that is not a valid change of a captured table."""

    def __init__(self, topic: str, partition: int, offset: int, reason: str) -> None:
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.reason = reason
        super().__init__(f"malformed change at {topic}[{partition}]@{offset}: {reason}")


def _short_reason(error: ValidationError) -> str:
    parts = []
    for item in error.errors(include_url=False)[:5]:
        where = ".".join(str(p) for p in item["loc"]) or "(record)"
        parts.append(f"{where}: {item['msg']}")
    more = error.error_count() - len(parts)
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")


@dataclass
class ChangeDecoder:
    """Decodes records of the topics `<prefix>.<schema>.<table>` for every captured table."""

    prefix: str
    _envelopes: dict[str, tuple[TableSpec, type[ChangeEnvelope[Any]]]] = field(init=False)

    def __post_init__(self) -> None:
        # Parametrised once per table: pydantic builds one validator each, reused for every record.
        self._envelopes = {
            f"{self.prefix}.{name}": (spec, ChangeEnvelope[spec.model])  # type: ignore[name-defined]
            for name, spec in TABLES.items()
        }

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
        try:
            envelope = envelope_type.model_validate_json(value)
        except ValidationError as error:
            raise MalformedChange(topic, partition, offset, _short_reason(error)) from None
        source = envelope.source
        if f"{source.schema_name}.{source.table}" != spec.name:
            raise MalformedChange(topic, partition, offset,
                                  f"source table {source.schema_name}.{source.table} does not match topic")
        return envelope


def decode_heartbeat(topic: str, value: bytes | None, *, partition: int = 0, offset: int = -1) -> Heartbeat:
    """A Debezium heartbeat record; MalformedChange if it is not one."""
    if value is None:
        raise MalformedChange(topic, partition, offset, "empty heartbeat")
    try:
        return Heartbeat.model_validate_json(value)
    except ValidationError as error:
        raise MalformedChange(topic, partition, offset, _short_reason(error)) from None
