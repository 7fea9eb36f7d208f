"""SmsSettings: LG_SMS_* environment, refused placeholder secrets, domain form."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from connectors.sms.settings import SmsSettings

KEY = "k" * 32
SECRET = "s" * 32


def test_reads_lg_sms_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LG_SMS_API_KEY", KEY)
    monkeypatch.setenv("LG_SMS_RECEIPT_HMAC_SECRET", SECRET)
    monkeypatch.setenv("LG_SMS_RATE_WINDOW_SECONDS", "6")
    monkeypatch.setenv("LG_SMS_GATEWAY_BASE_URL", "https://sms.example.test/")
    settings = SmsSettings()
    assert settings.api_key.get_secret_value() == KEY
    assert settings.rate_window_seconds == 6.0
    assert settings.rate_limit_per_window == 100
    assert settings.gateway_base_url == "https://sms.example.test"
    assert KEY not in repr(settings)  # SecretStr


def test_secrets_are_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LG_SMS_API_KEY", raising=False)
    monkeypatch.delenv("LG_SMS_RECEIPT_HMAC_SECRET", raising=False)
    with pytest.raises(ValidationError, match="api_key"):
        SmsSettings(_env_file=None)


@pytest.mark.parametrize("bad", ["changeme", "short", "password"])
def test_placeholder_secrets_are_refused(bad: str) -> None:
    with pytest.raises(ValidationError, match="real secret"):
        SmsSettings(api_key=bad, receipt_hmac_secret=SECRET)


@pytest.mark.parametrize(
    ("given", "kept"), [("lgas.tw", "lgas.tw"), ("LGAS.TW", "lgas.tw"), ("go.lgas.tw", "go.lgas.tw")]
)
def test_short_domain_normalised(given: str, kept: str) -> None:
    settings = SmsSettings(api_key=KEY, receipt_hmac_secret=SECRET, short_link_domain=given)
    assert settings.short_link_domain == kept


@pytest.mark.parametrize("bad", ["https://lgas.tw", "lgas.tw/x", "lgas", "lg as.tw"])
def test_short_domain_must_be_a_bare_domain(bad: str) -> None:
    with pytest.raises(ValidationError, match="bare domain"):
        SmsSettings(api_key=KEY, receipt_hmac_secret=SECRET, short_link_domain=bad)
