"""Typed settings of the RabbitMQ event connector (`LG_EVENTS_*`).

Contract: nothing is read at import time. `EventsSettings()` reads `LG_EVENTS_*` environment variables (and an
optional `.env`) when it is built; `get_events_settings()` builds it once and caches it. Components receive
an `EventsSettings` as an argument, so tests pass their own broker, exchange and queue names.

The AMQP URL carries no password (it shows up in logs); the password is `LG_EVENTS_PASSWORD`, a secret.
Retry tiers are given as a JSON list of delays in milliseconds, e.g. `LG_EVENTS_RETRY_DELAYS_MS=[1000,5000,30000]`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from yarl import URL


class EventsSettings(BaseSettings):
    """Where the broker is and how events are routed, retried and dead-lettered."""

    model_config = SettingsConfigDict(env_prefix="LG_EVENTS_", env_file=".env", extra="ignore")

    amqp_url: str = "amqp://luckygas@127.0.0.1:25682/"
    password: SecretStr = SecretStr("luckygas-local")
    connect_timeout_s: float = Field(default=5.0, gt=0)
    heartbeat_s: int = Field(default=30, ge=0)

    # The spec's exchange; a durable topic exchange, routing key = event type.
    exchange: str = "report.events"
    # Work queues are named `<queue_prefix><event type>` (e.g. "report.requested").
    queue_prefix: str = ""
    dead_letter_exchange: str = "report.events.dlx"
    dead_letter_queue: str = "report.events.dlq"
    # Quorum queues add a redelivery limit (poison protection when a consumer crashes mid-message) and
    # at-least-once dead-lettering. Changing it for existing queues needs them deleted first.
    queue_type: Literal["quorum", "classic"] = "quorum"
    # Redeliveries (consumer crashed or lost its connection before acking) after which the broker itself
    # dead-letters a message; quorum queues only.
    delivery_limit: int = Field(default=20, ge=1)

    # One TTL retry queue per delay: a failed message waits there, then dead-letters back to its work queue.
    # Attempt n (1-based) that fails waits retry_delays_ms[min(n-1, last)].
    retry_delays_ms: tuple[int, ...] = (1_000, 5_000, 30_000)
    # Handler attempts in all (first delivery + retries) before a message goes to the dead-letter queue.
    max_attempts: int = Field(default=4, ge=1)
    prefetch: int = Field(default=50, ge=1)

    confirm_timeout_s: float = Field(default=5.0, gt=0)
    breaker_failure_threshold: int = Field(default=5, ge=1)
    breaker_cooldown_s: float = Field(default=30.0, gt=0)

    @field_validator("amqp_url")
    @classmethod
    def _url_without_password(cls, value: str) -> str:
        url = URL(value)
        if url.scheme not in ("amqp", "amqps") or not url.host:
            raise ValueError("amqp_url must look like amqp://user@host:port/vhost (or amqps://)")
        if not url.user:
            raise ValueError("amqp_url must name the user, e.g. amqp://luckygas@host:5672/")
        if url.password is not None:
            raise ValueError("amqp_url must not contain a password: set LG_EVENTS_PASSWORD instead")
        return value

    @field_validator("retry_delays_ms")
    @classmethod
    def _positive_delays(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or any(delay <= 0 for delay in value):
            raise ValueError("retry_delays_ms needs at least one delay, each > 0 ms")
        if len(set(value)) != len(value):
            raise ValueError("retry_delays_ms must not repeat a delay (each delay is one queue)")
        return value

    @model_validator(mode="after")
    def _names_distinct(self) -> EventsSettings:
        if len({self.exchange, self.dead_letter_exchange}) != 2:
            raise ValueError("exchange and dead_letter_exchange must differ")
        return self

    def connection_url(self) -> URL:
        """The URL to connect with, password included; never log it."""
        return URL(self.amqp_url).with_password(self.password.get_secret_value())


@lru_cache(maxsize=1)
def get_events_settings() -> EventsSettings:
    """The process-wide settings, built on first use."""
    return EventsSettings()
