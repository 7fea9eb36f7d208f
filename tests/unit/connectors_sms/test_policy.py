"""Content rules: links only on our short domain, no phone numbers, Taiwan mobile recipients."""

from __future__ import annotations

import pytest

from connectors.sms.errors import ContentRefused, EmptyMessage, InvalidRecipient
from connectors.sms.policy import check_content, check_recipient, find_violations

DOMAIN = "lgas.tw"


@pytest.mark.parametrize(
    "text",
    [
        "詳情：lgas.tw/Ab12",
        "https://lgas.tw/Ab12",
        "HTTPS://LGAS.TW/x?y=1",
        "訂單A20260115-0012已送達",
        "數值0.95 時間01/15 10:30，共1,234桶",
        "ops@lgas.tw",
        "版本 v1.2 已上線",
    ],
)
def test_allowed_text(text: str) -> None:
    assert find_violations(text, DOMAIN) == ()
    check_content(text, DOMAIN)


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("請至evil.com登入", "evil.com"),
        ("http://lgas.tw.evil.com/a", "http://lgas.tw.evil.com/a"),
        ("https://user@evil.com:443/x", "https://user@evil.com:443/x"),
        ("看 www.google.com", "www.google.com"),
        ("ｅｖｉｌ．ｃｏｍ", "evil.com"),  # full-width look-alike
        ("bit.ly/3abc", "bit.ly/3abc"),
        ("lgas.tw@evil.com", "evil.com"),
        ("evil-lgas.tw/x", "evil-lgas.tw/x"),
    ],
)
def test_off_domain_links_are_found(text: str, found: str) -> None:
    findings = find_violations(text, DOMAIN)
    assert [(f.kind, f.text) for f in findings] == [("url", found)]


@pytest.mark.parametrize(
    "text",
    [
        "請撥0912-345-678",
        "請撥 +886 912 345 678",
        "(02)2345-6789",
        "(02) 2345 6789",
        "0800-000-123",
        "００９１２３４５６７８",
        "+1 415 555 0100",
        "00886912345678",
    ],
)
def test_phone_numbers_are_found(text: str) -> None:
    findings = find_violations(text, DOMAIN)
    assert [f.kind for f in findings] == ["phone"]


def test_refusal_lists_every_finding_with_a_clear_message() -> None:
    with pytest.raises(ContentRefused) as info:
        check_content("至 evil.com 或撥 0912345678", DOMAIN)
    assert [f.kind for f in info.value.findings] == ["url", "phone"]
    message = str(info.value)
    assert "evil.com" in message and "0912345678" in message
    assert "lgas.tw" in message and "NCC" in message


def test_empty_text_is_refused() -> None:
    with pytest.raises(EmptyMessage):
        check_content("  \n", DOMAIN)


@pytest.mark.parametrize("number", ["+886912345678", "+886987654321"])
def test_taiwan_mobiles_accepted(number: str) -> None:
    assert check_recipient(number) == number


@pytest.mark.parametrize("number", ["0912345678", "+886212345678", "+88691234567", "+8869123456789", "+1415555010"])
def test_other_numbers_refused(number: str) -> None:
    with pytest.raises(InvalidRecipient, match=r"\+8869"):
        check_recipient(number)
