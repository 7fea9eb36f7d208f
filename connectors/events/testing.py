"""Sample events for tests, demos and the throughput script: realistic values, deterministic given a clock.

Each factory builds a valid event; keyword arguments override any field (e.g. to make it invalid on purpose
via `model_copy(update=...)`, or to set `correlation_id`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

from connectors.events.models import (
    AlertTriggered,
    Event,
    EventType,
    OutputFormat,
    ReportCompleted,
    ReportFailed,
    ReportRequested,
    Severity,
)
from infra.clock import Clock, FixedClock, business_day


def report_requested(clock: Clock | None = None, **fields: Any) -> ReportRequested:
    now = (clock or FixedClock()).now()
    values: dict[str, Any] = {
        "occurred_at": now,
        "report_id": uuid4(),
        "report_type": "daily_sales_by_branch",
        "parameters": {"branch": "TPE01", "day": business_day(now).isoformat(), "include_returns": True},
        "requested_by": "王小明 (finance)",
        "output_format": OutputFormat.XLSX,
        "recipients": ("finance@luckygas.com.tw",),
    }
    return ReportRequested(**(values | fields))


def report_completed(clock: Clock | None = None, **fields: Any) -> ReportCompleted:
    now = (clock or FixedClock()).now()
    report_id = fields.pop("report_id", uuid4())
    values: dict[str, Any] = {
        "occurred_at": now,
        "report_id": report_id,
        "report_type": "daily_sales_by_branch",
        "output_location": f"gs://luckygas-reports/daily_sales_by_branch/{report_id}.xlsx",
        "output_format": OutputFormat.XLSX,
        "started_at": now - timedelta(seconds=42),
        "row_count": 1_234,
        "size_bytes": 98_304,
    }
    return ReportCompleted(**(values | fields))


def report_failed(clock: Clock | None = None, **fields: Any) -> ReportFailed:
    values: dict[str, Any] = {
        "occurred_at": (clock or FixedClock()).now(),
        "report_id": uuid4(),
        "report_type": "monthly_tax_401",
        "error_code": "QUERY_TIMEOUT",
        "error_message": "ClickHouse query exceeded 300 s",
        "retryable": True,
    }
    return ReportFailed(**(values | fields))


def alert_triggered(clock: Clock | None = None, **fields: Any) -> AlertTriggered:
    now = (clock or FixedClock()).now()
    values: dict[str, Any] = {
        "occurred_at": now,
        "rule_id": "stock-low-20kg",
        "kpi_name": "stock.cylinders_20kg",
        "value": Decimal("12"),
        "threshold": Decimal("50"),
        "comparison": "<",
        "severity": Severity.CRITICAL,
        "business_day": business_day(now),
        "scope": {"branch": "TPE01", "warehouse": "W3"},
        "message": "台北一站 20kg 鋼瓶庫存 12 支，低於安全存量 50 支",
    }
    return AlertTriggered(**(values | fields))


SAMPLE_FACTORIES: dict[EventType, Callable[..., Event]] = {
    EventType.REPORT_REQUESTED: report_requested,
    EventType.REPORT_COMPLETED: report_completed,
    EventType.REPORT_FAILED: report_failed,
    EventType.ALERT_TRIGGERED: alert_triggered,
}


def sample_event(event_type: EventType, clock: Clock | None = None, **fields: Any) -> Event:
    """A valid event of `event_type`."""
    return SAMPLE_FACTORIES[event_type](clock, **fields)
