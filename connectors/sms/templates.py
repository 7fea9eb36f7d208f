"""Traditional Chinese SMS alert templates, validated when rendered.

Contract: `render_alert(alert, context)` returns a `RenderedAlert` whose text
- passes the content policy (links only on the registered short domain, no phone numbers): else
  `ContentRefused`, raised before anything is sent;
- fits `context.max_segments` SMS segments (one 70-unit UCS-2 segment by default; one CJK character makes
  the whole text UCS-2): else `MessageTooLong`, naming the unit count so the caller can shorten a parameter.
Parameters must be non-empty single-line text (`TemplateParameterError` otherwise); times must be
timezone-aware and are shown in Asia/Taipei as MM/DD HH:MM. Links are `ShortLink` codes rendered on our
own short domain, never free URLs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from connectors.sms.encoding import SmsLength, measure
from connectors.sms.errors import MessageTooLong, TemplateParameterError
from connectors.sms.policy import check_content
from connectors.sms.settings import SmsSettings
from infra.clock import TAIPEI

_CODE_RE = re.compile(r"^[A-Za-z0-9]{2,16}$")


class AlertKind(StrEnum):
    """The alert types of the spec's SMS gateway section."""

    KPI_BREACH = "kpi_breach"
    SYSTEM_FAILURE = "system_failure"
    URGENT_REPORT = "urgent_report"
    DELIVERY_CONFIRMATION = "delivery_confirmation"


@dataclass(frozen=True, slots=True)
class ShortLink:
    """A code on our registered short domain (e.g. `lgas.tw/Ab12`); the shortener that maps it is ours."""

    code: str

    def __post_init__(self) -> None:
        if not _CODE_RE.match(self.code):
            raise TemplateParameterError(f"short-link code must be 2-16 letters/digits, got {self.code!r}")

    def render(self, domain: str) -> str:
        # No scheme: phones link bare .tw hosts, and "https://" would cost 8 of our 70 units.
        return f"{domain}/{self.code}"


@dataclass(frozen=True, slots=True)
class TemplateContext:
    """What every rendering needs from the settings."""

    brand: str
    short_domain: str
    max_segments: int = 1

    @classmethod
    def from_settings(cls, settings: SmsSettings) -> TemplateContext:
        return cls(settings.brand_name, settings.short_link_domain, settings.max_segments)


@dataclass(frozen=True, slots=True)
class KpiBreachAlert:
    """A critical KPI crossed its threshold. `value`/`threshold` are display strings with units ("812桶")."""

    kpi: str
    value: str
    threshold: str
    at: datetime
    link: ShortLink | None = None


@dataclass(frozen=True, slots=True)
class SystemFailureAlert:
    """A system (pipeline, database, connector) failed; `problem` says how in a few characters."""

    system: str
    problem: str
    at: datetime
    link: ShortLink | None = None


@dataclass(frozen=True, slots=True)
class UrgentReportAlert:
    """An urgent report is ready; the link opens it."""

    report: str
    at: datetime
    link: ShortLink


@dataclass(frozen=True, slots=True)
class DeliveryConfirmationAlert:
    """A gas delivery was completed at a customer."""

    order_no: str
    customer: str
    at: datetime


Alert = KpiBreachAlert | SystemFailureAlert | UrgentReportAlert | DeliveryConfirmationAlert


@dataclass(frozen=True, slots=True)
class RenderedAlert:
    """A validated alert text, ready to send."""

    kind: AlertKind
    text: str
    length: SmsLength


def render_alert(alert: Alert, context: TemplateContext) -> RenderedAlert:
    """The alert's text, checked against the content policy and the segment limit (see module contract)."""
    kind, text = _format(alert, context)
    check_content(text, context.short_domain)
    length = measure(text)
    if length.segments > context.max_segments:
        raise MessageTooLong(
            f"{kind.value} alert", length.encoding.value, length.units, length.segments, context.max_segments
        )
    return RenderedAlert(kind=kind, text=text, length=length)


def _format(alert: Alert, ctx: TemplateContext) -> tuple[AlertKind, str]:
    brand = f"【{_param('brand', ctx.brand)}】"
    match alert:
        case KpiBreachAlert():
            text = (
                f"{brand}嚴重警示：{_param('kpi', alert.kpi)}為{_param('value', alert.value)}，"
                f"超出門檻{_param('threshold', alert.threshold)}（{_when(alert.at)}）。{_link(alert.link, ctx)}"
            )
            return AlertKind.KPI_BREACH, text
        case SystemFailureAlert():
            text = (
                f"{brand}系統故障：{_param('system', alert.system)}{_param('problem', alert.problem)}"
                f"（{_when(alert.at)}），請立即處理。{_link(alert.link, ctx)}"
            )
            return AlertKind.SYSTEM_FAILURE, text
        case UrgentReportAlert():
            text = (
                f"{brand}緊急報表「{_param('report', alert.report)}」已完成（{_when(alert.at)}），"
                f"請查閱：{alert.link.render(ctx.short_domain)}"
            )
            return AlertKind.URGENT_REPORT, text
        case DeliveryConfirmationAlert():
            text = (
                f"{brand}配送確認：訂單{_param('order_no', alert.order_no)}已於{_when(alert.at)}"
                f"送達{_param('customer', alert.customer)}。"
            )
            return AlertKind.DELIVERY_CONFIRMATION, text
    raise TemplateParameterError(f"not an alert: {type(alert).__name__}")


def _param(name: str, value: str) -> str:
    """A parameter stripped of surrounding space; empty or multi-line values are refused."""
    cleaned = value.strip()
    if not cleaned:
        raise TemplateParameterError(f"template parameter {name!r} is empty")
    if any(ch in cleaned for ch in "\r\n\t"):
        raise TemplateParameterError(f"template parameter {name!r} must be one line: {value!r}")
    return cleaned


def _when(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise TemplateParameterError("alert time must be timezone-aware")
    return moment.astimezone(TAIPEI).strftime("%m/%d %H:%M")


def _link(link: ShortLink | None, ctx: TemplateContext) -> str:
    return "" if link is None else f"詳情：{link.render(ctx.short_domain)}"
