"""Templates: both languages, both kinds, branding, escaping, inlined CSS, plain text, archive notice."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from connectors.mail.errors import TemplateError
from connectors.mail.rendering import ArchivedFile, MailTemplates, format_date, format_datetime, format_number
from tests.unit.connectors_mail.conftest import kpi_content, report_content


def test_report_ready_zh_tw(templates: MailTemplates) -> None:
    mail = templates.render(report_content(), "zh-TW", attachment_names=["2026年1月營運報表.pdf"])
    assert mail.subject == "【幸運瓦斯】報表已產生：月營運報表（2026年1月1日至2026年1月31日）"
    for part in (mail.html, mail.text):
        assert "幸運瓦斯 Lucky Gas" in part  # branded header
        assert "此郵件由幸運瓦斯報表系統自動寄出" in part  # branded footer
        assert "王經理 您好：" in part
        assert "2026年1月15日 10:30（台北時間）" in part
        assert "準時率：97.2%" in part
        assert "2026年1月營運報表.pdf" in part
    assert "線上查看報表：https://reports.luckygas.com/r/2026-01?view=full&lang=zh" in mail.text
    assert 'href="https://reports.luckygas.com/r/2026-01?view=full&amp;lang=zh"' in mail.html
    assert '<html lang="zh-TW">' in mail.html


def test_report_ready_en(templates: MailTemplates) -> None:
    mail = templates.render(report_content(recipient_name=None, report_name="Monthly operations"), "en")
    assert mail.subject == "[Lucky Gas] Report ready: Monthly operations (1 Jan 2026 – 31 Jan 2026)"
    assert "Hello," in mail.text and "15 Jan 2026 10:30 (Taipei time)" in mail.text
    assert "This message was sent automatically by the Lucky Gas reporting system" in mail.html
    assert "The report is attached" not in mail.text  # nothing attached
    assert "幸運瓦斯" in mail.html  # the brand keeps its Chinese name in English mails


def test_single_day_period_is_shown_once(templates: MailTemplates) -> None:
    mail = templates.render(report_content(period_end=date(2026, 1, 1)), "zh-TW")
    assert mail.subject.endswith("（2026年1月1日）")


@pytest.mark.parametrize(
    ("lang", "subject"),
    [
        ("zh-TW", "【幸運瓦斯】嚴重警示：每日配送量 812 桶，低於門檻 1,000 桶"),
        ("en", "[Lucky Gas] CRITICAL: 每日配送量 at 812 桶, below threshold 1,000 桶"),
    ],
)
def test_kpi_alert_subjects(templates: MailTemplates, lang: str, subject: str) -> None:
    mail = templates.render(kpi_content(), lang)  # type: ignore[arg-type]
    assert mail.subject == subject
    assert "https://dash.luckygas.com/kpi/deliveries" in mail.text


def test_kpi_warning_above(templates: MailTemplates) -> None:
    mail = templates.render(
        kpi_content(severity="warning", direction="above", kpi_name="LPG cost", value=Decimal("31.5"), unit=""),
        "en",
    )
    assert mail.subject == "[Lucky Gas] Warning: LPG cost at 31.5, above threshold 1,000"
    assert 'class="warning"' in mail.html


def test_html_is_escaped_text_is_not(templates: MailTemplates) -> None:
    mail = templates.render(report_content(report_name='<script>alert("x")</script> & Co'), "en")
    assert "<script>" not in mail.html
    assert "&lt;script&gt;" in mail.html
    assert '"<script>alert("x")</script> & Co" was generated' in mail.text
    assert "<script>alert" in mail.subject  # a header, not HTML: shown as written


def test_css_is_inlined_media_query_kept(templates: MailTemplates) -> None:
    html = templates.render(report_content(), "zh-TW").html
    assert re.search(r'<td class="header" style="[^"]*background-color: #c8102e', html)
    assert re.search(r'<a class="button"[^>]*style="[^"]*display: inline-block', html)
    style_blocks = re.findall(r"<style>(.*?)</style>", html, re.S)
    # Only the responsive @media rules survive in <style>; every plain rule went into style= attributes.
    assert len(style_blocks) == 1 and style_blocks[0].strip().startswith("@media")


def test_archived_files_are_announced_in_both_parts(templates: MailTemplates) -> None:
    archived = [ArchivedFile("2026年全年明細.xlsx", 31 * 1024 * 1024, "https://archive.luckygas.com/f/abc")]
    zh = templates.render(report_content(), "zh-TW", archived=archived)
    assert "以下附件超過郵件大小上限（25.0 MB）" in zh.text
    assert "- 2026年全年明細.xlsx（31.0 MB）：https://archive.luckygas.com/f/abc" in zh.text
    assert '<a href="https://archive.luckygas.com/f/abc"' in zh.html
    en = templates.render(report_content(), "en", archived=archived)
    assert "exceed the mail size limit (25.0 MB)" in en.text
    assert "2026年全年明細.xlsx (31.0 MB): https://archive.luckygas.com/f/abc" in en.text


def test_text_part_has_no_html_and_no_blank_runs(templates: MailTemplates) -> None:
    text = templates.render(kpi_content(dashboard_url=None), "zh-TW").text
    assert "<" not in text
    assert "\n\n\n" not in text
    assert "即時儀表板" not in text


def test_unknown_language_is_refused(templates: MailTemplates) -> None:
    with pytest.raises(TemplateError, match="unsupported language"):
        templates.render(report_content(), "ja")  # type: ignore[arg-type]


def test_links_must_be_web_links() -> None:
    with pytest.raises(ValueError, match="http"):
        report_content(report_url="javascript:alert(1)")


def test_content_needs_aware_times_and_ordered_period() -> None:
    with pytest.raises(ValueError, match="timezone"):
        report_content(generated_at=datetime(2026, 1, 15, 10, 30))  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError, match="before"):
        report_content(period_start=date(2026, 2, 1))


def test_formatting_helpers() -> None:
    assert format_date(date(2026, 3, 9), "zh-TW") == "2026年3月9日"
    assert format_date(date(2026, 3, 9), "en") == "9 Mar 2026"
    # 23:30 UTC on Jan 31 is Feb 1 in Taipei.
    assert format_datetime(datetime(2026, 1, 31, 23, 30, tzinfo=UTC), "en") == "1 Feb 2026 07:30 (Taipei time)"
    assert format_number(Decimal("1234567.50")) == "1,234,567.5"
    assert format_number(Decimal("1000.00")) == "1,000"
    assert format_number(3) == "3"
