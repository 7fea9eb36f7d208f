"""EventsSettings from LG_EVENTS_* variables; the password never sits in the URL."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from connectors.events.settings import EventsSettings


def test_settings_come_from_lg_events_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LG_EVENTS_AMQP_URL", "amqps://reports@mq.luckygas.example:5671/reporting")
    monkeypatch.setenv("LG_EVENTS_PASSWORD", "s3cret/with@chars")
    monkeypatch.setenv("LG_EVENTS_RETRY_DELAYS_MS", "[500, 2000]")
    monkeypatch.setenv("LG_EVENTS_MAX_ATTEMPTS", "3")
    monkeypatch.setenv("LG_EVENTS_QUEUE_TYPE", "classic")
    monkeypatch.setenv("LG_EVENTS_BREAKER_FAILURE_THRESHOLD", "2")
    settings = EventsSettings(_env_file=None)
    assert settings.retry_delays_ms == (500, 2000)
    assert (settings.max_attempts, settings.queue_type, settings.breaker_failure_threshold) == (3, "classic", 2)
    assert "s3cret" not in repr(settings)
    url = settings.connection_url()
    assert (url.scheme, url.user, url.password, url.host, url.port, url.path) == (
        "amqps",
        "reports",
        "s3cret/with@chars",
        "mq.luckygas.example",
        5671,
        "/reporting",
    )


def test_defaults_follow_the_spec() -> None:
    settings = EventsSettings(_env_file=None)
    assert settings.exchange == "report.events"
    assert settings.retry_delays_ms == (1_000, 5_000, 30_000)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("amqp_url", "amqp://luckygas:hunter2@127.0.0.1:5672/", "must not contain a password"),
        ("amqp_url", "http://luckygas@127.0.0.1/", "amqp://"),
        ("amqp_url", "amqp://127.0.0.1:5672/", "must name the user"),
        ("retry_delays_ms", (), "at least one delay"),
        ("retry_delays_ms", (1000, 0), "at least one delay"),
        ("retry_delays_ms", (1000, 1000), "must not repeat"),
        ("max_attempts", 0, "greater than or equal to 1"),
        ("dead_letter_exchange", "report.events", "must differ"),
    ],
)
def test_bad_settings_are_refused(field: str, value: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        EventsSettings(_env_file=None, **{field: value})


def test_password_is_a_secret() -> None:
    settings = EventsSettings(_env_file=None, password=SecretStr("topsecret"))
    assert "topsecret" not in str(settings.model_dump())
    assert settings.connection_url().password == "topsecret"
