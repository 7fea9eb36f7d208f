"""The four report events the legacy consumers receive on RabbitMQ, and their wire format.

Contract: an event is a frozen pydantic model; its `event_type` is also its routing key. `encode_event` gives
UTF-8 JSON (orjson; decimals as strings so no KPI value loses digits); `decode_event` accepts exactly what
`encode_event` produces (and the same JSON from Kafka) and raises `EventDecodeError` with a `PoisonReason`
for anything else. All datetimes must be timezone-aware. `event_id` is the AMQP `message_id`: consumers get
at-least-once delivery and deduplicate on it.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal
from uuid import UUID, uuid4

import orjson
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from connectors.events.errors import EventDecodeError, PoisonReason

SCHEMA_VERSION = 1


class EventType(StrEnum):
    """The spec's event types; each is a routing key on `report.events` and names one work queue."""

    REPORT_REQUESTED = "report.requested"
    REPORT_COMPLETED = "report.completed"
    REPORT_FAILED = "report.failed"
    ALERT_TRIGGERED = "alert.triggered"


class OutputFormat(StrEnum):
    PDF = "pdf"
    XLSX = "xlsx"
    CSV = "csv"
    HTML = "html"
    JSON = "json"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


_ReportType = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,63}$")]  # e.g. "daily_sales_by_branch"
_Text = Annotated[str, Field(min_length=1, max_length=2000)]


class _Event(BaseModel):
    """Fields every event carries."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = 1  # SCHEMA_VERSION; bump both with a new wire format
    event_id: UUID = Field(default_factory=uuid4)
    occurred_at: AwareDatetime
    source: str = "luckygas-analytics"
    # Ties the events of one report run (requested -> completed/failed) or one alert episode together.
    correlation_id: str | None = None


class ReportRequested(_Event):
    """Someone (a user, a schedule, a workflow) asked for a report run."""

    event_type: Literal[EventType.REPORT_REQUESTED] = EventType.REPORT_REQUESTED
    report_id: UUID
    report_type: _ReportType
    parameters: dict[str, JsonValue] = Field(default_factory=dict)  # e.g. {"branch": "TPE01", "day": "2026-01-14"}
    requested_by: _Text
    output_format: OutputFormat = OutputFormat.PDF
    priority: Literal["low", "normal", "urgent"] = "normal"
    recipients: tuple[str, ...] = ()


class ReportCompleted(_Event):
    """A report run finished; the output is at `output_location` (a URI: gs://, s3://, https://, file://)."""

    event_type: Literal[EventType.REPORT_COMPLETED] = EventType.REPORT_COMPLETED
    report_id: UUID
    report_type: _ReportType
    output_location: Annotated[str, Field(pattern=r"^[a-z][a-z0-9+.-]*://\S+$")]
    output_format: OutputFormat
    started_at: AwareDatetime
    row_count: int = Field(ge=0)
    size_bytes: int = Field(ge=0)

    @model_validator(mode="after")
    def _started_before_done(self) -> ReportCompleted:
        if self.started_at > self.occurred_at:
            raise ValueError("started_at is after occurred_at")
        return self


class ReportFailed(_Event):
    """A report run failed; `retryable` says whether running it again may help."""

    event_type: Literal[EventType.REPORT_FAILED] = EventType.REPORT_FAILED
    report_id: UUID
    report_type: _ReportType
    error_code: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]{1,63}$")]  # e.g. "QUERY_TIMEOUT"
    error_message: _Text
    attempt: int = Field(default=1, ge=1)
    retryable: bool = False


_BREACHES: dict[str, Callable[[Any, Any], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


class AlertTriggered(_Event):
    """A KPI crossed its threshold: `value <comparison> threshold` holds (checked), e.g. stock < reorder point."""

    event_type: Literal[EventType.ALERT_TRIGGERED] = EventType.ALERT_TRIGGERED
    rule_id: Annotated[str, Field(min_length=1, max_length=128)]
    kpi_name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_.]{1,127}$")]  # e.g. "stock.cylinders_20kg"
    value: Decimal
    threshold: Decimal
    comparison: Literal[">", ">=", "<", "<="]
    severity: Severity
    business_day: date  # the Asia/Taipei day the value belongs to
    scope: dict[str, str] = Field(default_factory=dict)  # e.g. {"branch": "TPE01", "warehouse": "W3"}
    message: _Text  # for people (zh-TW), e.g. SMS text

    @model_validator(mode="after")
    def _breaches(self) -> AlertTriggered:
        if not _BREACHES[self.comparison](self.value, self.threshold):
            raise ValueError(f"value {self.value} does not breach {self.comparison} {self.threshold}")
        return self


Event = Annotated[ReportRequested | ReportCompleted | ReportFailed | AlertTriggered, Field(discriminator="event_type")]
_EVENT: TypeAdapter[Event] = TypeAdapter(Event)


def encode_event(event: Event) -> bytes:
    """UTF-8 JSON for the wire."""
    return orjson.dumps(event.model_dump(mode="json"))


def decode_event(body: bytes, expected: EventType | None = None) -> Event:
    """The event in `body`; `EventDecodeError` if it is not valid JSON, not a valid event, or not `expected`."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise EventDecodeError(PoisonReason.UNDECODABLE, f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise EventDecodeError(PoisonReason.UNDECODABLE, f"a JSON {type(data).__name__}, not an object")
    try:
        event = _EVENT.validate_python(data)
    except ValidationError as exc:
        raise EventDecodeError(PoisonReason.SCHEMA_INVALID, _summary(exc)) from None
    if expected is not None and event.event_type != expected:
        raise EventDecodeError(PoisonReason.WRONG_TYPE, f"{event.event_type} on the {expected} queue")
    return event


def _summary(exc: ValidationError, limit: int = 5) -> str:
    """pydantic's errors on one line: `field.path: message; ...` (at most `limit`)."""
    parts = [f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()[:limit]]
    more = exc.error_count() - limit
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")
