"""Traditional Chinese alert templates: one 70-unit UCS-2 segment, content policy at render time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.sms.encoding import Encoding
from connectors.sms.errors import ContentRefused, MessageTooLong, TemplateParameterError
from connectors.sms.templates import (
    Alert,
    AlertKind,
    DeliveryConfirmationAlert,
    KpiBreachAlert,
    ShortLink,
    SystemFailureAlert,
    TemplateContext,
    UrgentReportAlert,
    render_alert,
)

CTX = TemplateContext(brand="幸運瓦斯", short_domain="lgas.tw")
AT = datetime(2026, 1, 15, 2, 30, tzinfo=UTC)  # 10:30 in Taipei

TYPICAL: list[tuple[Alert, AlertKind, str]] = [
    (
        KpiBreachAlert("每日配送量", "812桶", "1,000桶", AT, ShortLink("Ab12Cd")),
        AlertKind.KPI_BREACH,
        "【幸運瓦斯】嚴重警示：每日配送量為812桶，超出門檻1,000桶（01/15 10:30）。詳情：lgas.tw/Ab12Cd",
    ),
    (
        SystemFailureAlert("CDC資料管線", "中斷超過5分鐘", AT, ShortLink("St4tus")),
        AlertKind.SYSTEM_FAILURE,
        "【幸運瓦斯】系統故障：CDC資料管線中斷超過5分鐘（01/15 10:30），請立即處理。詳情：lgas.tw/St4tus",
    ),
    (
        UrgentReportAlert("一月營業稅申報", AT, ShortLink("Rp0115")),
        AlertKind.URGENT_REPORT,
        "【幸運瓦斯】緊急報表「一月營業稅申報」已完成（01/15 10:30），請查閱：lgas.tw/Rp0115",
    ),
    (
        DeliveryConfirmationAlert("A20260115-0012", "王小明", AT),
        AlertKind.DELIVERY_CONFIRMATION,
        "【幸運瓦斯】配送確認：訂單A20260115-0012已於01/15 10:30送達王小明。",
    ),
]


@pytest.mark.parametrize(("alert", "kind", "expected"), TYPICAL)
def test_typical_alerts_render_in_one_ucs2_segment(alert: Alert, kind: AlertKind, expected: str) -> None:
    rendered = render_alert(alert, CTX)
    assert rendered.kind is kind
    assert rendered.text == expected
    assert rendered.length.encoding is Encoding.UCS2
    assert rendered.length.units <= 70
    assert rendered.length.segments == 1


def test_alert_over_one_segment_raises_typed_error_with_counts() -> None:
    alert = SystemFailureAlert(
        "ClickHouse叢集", "三個節點同時無回應且複寫佇列持續累積超過一萬筆資料", AT, ShortLink("St4tus")
    )
    with pytest.raises(MessageTooLong) as info:
        render_alert(alert, CTX)
    err = info.value
    assert (err.encoding, err.segments, err.max_segments) == ("UCS-2", 2, 1)
    assert err.units > 70
    assert "system_failure alert" in str(err)


def test_more_segments_allowed_when_context_says_so() -> None:
    alert = SystemFailureAlert(
        "ClickHouse叢集", "三個節點同時無回應且複寫佇列持續累積超過一萬筆資料", AT, ShortLink("St4tus")
    )
    rendered = render_alert(alert, TemplateContext("幸運瓦斯", "lgas.tw", max_segments=2))
    assert rendered.length.segments == 2


def test_exactly_seventy_units_is_one_segment() -> None:
    base = render_alert(DeliveryConfirmationAlert("A1", "王", AT), CTX)
    pad = 70 - base.length.units
    rendered = render_alert(DeliveryConfirmationAlert("A1", "王" * (1 + pad), AT), CTX)
    assert rendered.length.units == 70 and rendered.length.segments == 1
    with pytest.raises(MessageTooLong):
        render_alert(DeliveryConfirmationAlert("A1", "王" * (2 + pad), AT), CTX)


def test_foreign_link_in_a_parameter_is_refused() -> None:
    with pytest.raises(ContentRefused, match=r"evil\.tw"):
        render_alert(SystemFailureAlert("報表系統", "請見evil.tw/x", AT), CTX)


def test_phone_number_in_a_parameter_is_refused() -> None:
    with pytest.raises(ContentRefused, match="phone number"):
        render_alert(DeliveryConfirmationAlert("A1", "王先生0912345678", AT), CTX)


def test_links_render_on_the_context_domain() -> None:
    rendered = render_alert(UrgentReportAlert("日報", AT, ShortLink("Zz9")), TemplateContext("幸運瓦斯", "lg.tw"))
    assert rendered.text.endswith("lg.tw/Zz9")


@pytest.mark.parametrize("code", ["", "a", "ab/cd", "x" * 17, "中文"])
def test_bad_short_link_codes_are_refused(code: str) -> None:
    with pytest.raises(TemplateParameterError):
        ShortLink(code)


def test_naive_time_is_refused() -> None:
    with pytest.raises(TemplateParameterError, match="timezone-aware"):
        render_alert(DeliveryConfirmationAlert("A1", "王", datetime(2026, 1, 15, 10, 30)), CTX)  # noqa: DTZ001


@pytest.mark.parametrize("value", ["", "   ", "兩\n行"])
def test_empty_or_multiline_parameters_are_refused(value: str) -> None:
    with pytest.raises(TemplateParameterError, match="customer"):
        render_alert(DeliveryConfirmationAlert("A1", value, AT), CTX)
