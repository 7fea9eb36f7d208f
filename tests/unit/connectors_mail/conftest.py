"""Shared builders for the mail unit tests (no network)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from connectors.mail.compose import MailComposer
from connectors.mail.content import KpiAlertContent, ReportReadyContent
from connectors.mail.rendering import Brand, MailTemplates
from connectors.mail.settings import MailSettings
from infra.clock import FixedClock

T0 = datetime(2026, 1, 15, 2, 30, tzinfo=UTC)  # 10:30 in Taipei


def mail_settings(**overrides: Any) -> MailSettings:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "sender_address": "reports@luckygas.com",
        "bounce_address": "bounces@luckygas.com",
        "oauth_token": "unit-test-token",
    }
    values.update(overrides)
    return MailSettings(_env_file=None, **values)


def report_content(**overrides: Any) -> ReportReadyContent:
    values: dict[str, Any] = {
        "report_name": "月營運報表",
        "period_start": date(2026, 1, 1),
        "period_end": date(2026, 1, 31),
        "generated_at": T0,
        "recipient_name": "王經理",
        "report_url": "https://reports.luckygas.com/r/2026-01?view=full&lang=zh",
        "highlights": ("配送量：24,310 桶", "準時率：97.2%"),
    }
    values.update(overrides)
    return ReportReadyContent(**values)


def kpi_content(**overrides: Any) -> KpiAlertContent:
    values: dict[str, Any] = {
        "kpi_name": "每日配送量",
        "severity": "critical",
        "value": Decimal("812"),
        "threshold": Decimal("1000"),
        "direction": "below",
        "unit": " 桶",
        "observed_at": T0,
        "dashboard_url": "https://dash.luckygas.com/kpi/deliveries",
    }
    values.update(overrides)
    return KpiAlertContent(**values)


@pytest.fixture
def templates() -> MailTemplates:
    return MailTemplates(Brand.from_settings(mail_settings()))


@pytest.fixture
def make_composer() -> Callable[..., MailComposer]:
    def build(settings: MailSettings | None = None, **kwargs: Any) -> MailComposer:
        settings = settings or mail_settings()
        return MailComposer(settings, MailTemplates(Brand.from_settings(settings)), clock=FixedClock(T0), **kwargs)

    return build
