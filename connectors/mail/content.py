"""What our mails say: one validated model per kind of mail, rendered by `templates.MailTemplates`.

Contract: every model is immutable and validated when built (aware datetimes, a period that does not end
before it starts, links only over http(s), so a template can put them in an href as they are). `kind`
names the template family (`<kind>.<lang>.subject.j2` / `.html.j2` / `.txt.j2`).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator


def _check_link(value: str | None) -> str | None:
    # Only web links: a javascript: or data: URL in an href would be live content in some mail clients.
    if value is not None and not value.startswith(("https://", "http://")):
        raise ValueError("links must be http(s) URLs")
    return value


class _Content(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: ClassVar[str]


class ReportReadyContent(_Content):
    """A generated report is ready: attached, and/or at `report_url`."""

    kind: ClassVar[str] = "report_ready"

    report_name: str = Field(min_length=1, max_length=200)
    period_start: date
    period_end: date
    generated_at: AwareDatetime
    recipient_name: str | None = Field(default=None, max_length=100)
    report_url: str | None = None
    # A few headline figures already formatted by the report, e.g. "配送量：812 桶".
    highlights: tuple[str, ...] = Field(default=(), max_length=10)

    _link = field_validator("report_url")(_check_link)

    @model_validator(mode="after")
    def _period_order(self) -> ReportReadyContent:
        if self.period_end < self.period_start:
            raise ValueError("period_end is before period_start")
        return self


class KpiAlertContent(_Content):
    """A KPI crossed its threshold (the email twin of the SMS alert, with room for detail)."""

    kind: ClassVar[str] = "kpi_alert"

    kpi_name: str = Field(min_length=1, max_length=100)
    severity: Literal["warning", "critical"]
    value: Decimal
    threshold: Decimal
    # "above": alert when value > threshold; "below": when value < threshold.
    direction: Literal["above", "below"]
    unit: str = Field(default="", max_length=20)
    observed_at: AwareDatetime
    dashboard_url: str | None = None
    recipient_name: str | None = Field(default=None, max_length=100)

    _link = field_validator("dashboard_url")(_check_link)


MailContent = ReportReadyContent | KpiAlertContent
