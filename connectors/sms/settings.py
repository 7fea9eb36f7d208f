"""Typed settings of the SMS alert connector (Taiwan Mobile-style REST gateway).

Contract: nothing is read at import time. `SmsSettings()` reads `LG_SMS_*` environment variables (and an
optional `.env`) when built; `get_sms_settings()` builds it once and caches it. Components receive an
`SmsSettings` as an argument, so tests pass their own gateway, Redis and (shorter) rate-limit window.
The API key and the receipt HMAC secret have no defaults and placeholder values are refused.
"""

from __future__ import annotations

import re
from functools import lru_cache

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_PLACEHOLDERS = {"changeme", "change-me", "secret", "password", "test", "xxx"}
_DOMAIN_RE = re.compile(r"^(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


class SmsSettings(BaseSettings):
    """Where the gateway is, how we authenticate, and the limits every worker process shares."""

    model_config = SettingsConfigDict(env_prefix="LG_SMS_", env_file=".env", extra="ignore")

    gateway_base_url: str = "http://127.0.0.1:18090"
    api_key: SecretStr
    # Alphanumeric sender registered with the carrier; shown as the SMS sender.
    sender_id: str = Field(default="LuckyGas", min_length=1, max_length=11)
    # Brand tag every alert starts with, 【...】 (Taiwanese carriers expect the sender's name in the text).
    brand_name: str = Field(default="幸運瓦斯", min_length=1, max_length=8)
    # Public URL of our POST /sms/receipts endpoint; the gateway posts delivery receipts there.
    callback_url: str | None = None

    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_key_prefix: str = "lg:sms"

    # The contract: at most `rate_limit_per_window` requests reach the gateway in ANY sliding window of
    # `rate_window_seconds`, summed over every worker process (100 per 60 s in production).
    rate_limit_per_window: int = Field(default=100, ge=1)
    rate_window_seconds: float = Field(default=60.0, gt=0)
    # How long a caller may wait for a free send slot before RateLimitTimeout (an alert storm queues).
    rate_wait_timeout_seconds: float = Field(default=900.0, gt=0)

    # Links are allowed only on this registered short domain (NCC rule since 2024-11-18).
    short_link_domain: str = "lgas.tw"
    # Alerts must fit this many segments (the spec: one 70-unit UCS-2 SMS).
    max_segments: int = Field(default=1, ge=1, le=10)

    receipt_hmac_secret: SecretStr
    # A receipt whose signature timestamp is further than this from our clock is refused (replay guard).
    receipt_tolerance_seconds: int = Field(default=300, ge=1)
    receipt_ttl_days: int = Field(default=30, ge=1)

    max_retries: int = Field(default=5, ge=0, le=20)
    backoff_base_seconds: float = Field(default=0.5, gt=0)
    backoff_max_seconds: float = Field(default=30.0, gt=0)
    # A Retry-After longer than this is not waited out: the send fails with GatewayUnavailable.
    max_retry_after_seconds: float = Field(default=120.0, gt=0)
    request_timeout_seconds: float = Field(default=10.0, gt=0)

    @field_validator("api_key", "receipt_hmac_secret")
    @classmethod
    def _no_placeholder_secrets(cls, value: SecretStr) -> SecretStr:
        raw = value.get_secret_value()
        if len(raw) < 16 or raw.lower() in _PLACEHOLDERS:
            raise ValueError("must be a real secret of at least 16 characters")
        return value

    @field_validator("short_link_domain")
    @classmethod
    def _domain_form(cls, value: str) -> str:
        domain = value.strip().lower()
        if not _DOMAIN_RE.match(domain):
            raise ValueError(f"not a bare domain name: {value!r} (give e.g. 'lgas.tw', no scheme or path)")
        return domain

    @field_validator("gateway_base_url")
    @classmethod
    def _base_url_form(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("gateway_base_url must start with http:// or https://")
        return value.rstrip("/")

    @property
    def limiter_key(self) -> str:
        """The Redis key of the shared sliding window: every worker with the same prefix shares one limit."""
        return f"{self.redis_key_prefix}:ratelimit"


@lru_cache(maxsize=1)
def get_sms_settings() -> SmsSettings:
    """The process-wide SMS settings, built on first use (fails then if the secrets are missing)."""
    return SmsSettings()
