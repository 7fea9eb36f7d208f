"""Settings (LG_MAIL_*, lazily built, verifying TLS) and address normalization."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from connectors.mail.addresses import normalize_address, normalize_all
from connectors.mail.errors import InvalidAddress, MailConfigError
from connectors.mail.settings import SPEC_MAX_MESSAGE_BYTES, MailSettings, StaticTokenProvider
from tests.unit.connectors_mail.conftest import mail_settings


def test_defaults_follow_the_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LG_MAIL_PORT", raising=False)
    settings = MailSettings(_env_file=None)
    assert (settings.host, settings.port) == ("mail.luckygas.com", 587)
    assert settings.max_message_bytes == SPEC_MAX_MESSAGE_BYTES == 26_214_400
    assert settings.envelope_sender == settings.auth_user == "reports@luckygas.com"


def test_environment_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LG_MAIL_HOST", "smtp.example.net")
    monkeypatch.setenv("LG_MAIL_OAUTH_USER", "Svc-Reports@LuckyGas.com")
    monkeypatch.setenv("LG_MAIL_BOUNCE_ADDRESS", "bounces@luckygas.com")
    settings = MailSettings(_env_file=None)
    assert settings.host == "smtp.example.net"
    assert settings.auth_user == "svc-reports@luckygas.com"
    assert settings.envelope_sender == "bounces@luckygas.com"


def test_invalid_values_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="not a mail address"):
        mail_settings(sender_address="reports")
    with pytest.raises(ValidationError, match="does not exist"):
        mail_settings(ca_file=tmp_path / "missing.pem")
    with pytest.raises(ValidationError, match="blank"):
        mail_settings(oauth_token="  ")


def test_tls_context_verifies() -> None:
    context = mail_settings().tls_context()
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname is True
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2


async def test_static_token_provider() -> None:
    provider = StaticTokenProvider.from_settings(mail_settings(oauth_token="ya29.token-value"))
    assert await provider() == "ya29.token-value"
    with pytest.raises(MailConfigError, match="LG_MAIL_OAUTH_TOKEN"):
        StaticTokenProvider(None)
    assert "ya29" not in repr(mail_settings(oauth_token=SecretStr("ya29.token-value")))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Wang@Example.COM", "wang@example.com"),
        ("王小明 <wang@example.com>", "wang@example.com"),
        ("  ops+alerts@lucky-gas.com.tw ", "ops+alerts@lucky-gas.com.tw"),
    ],
)
def test_normalize_address(text: str, expected: str) -> None:
    assert normalize_address(text) == expected


@pytest.mark.parametrize(
    "text",
    ["wang", "wang@localhost", "a@b@c.com", "王@例子.台灣", "a@example.com, b@example.com", "a@example.com\r\nBcc: x@y.com"],
)
def test_invalid_addresses(text: str) -> None:
    with pytest.raises(InvalidAddress):
        normalize_address(text)


def test_normalize_all_dedupes_in_order() -> None:
    assert normalize_all(["B@x.com", "a@x.com", "b@X.com"]) == ("b@x.com", "a@x.com")
