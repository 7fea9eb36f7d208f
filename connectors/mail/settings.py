"""Typed settings of the email connector (report distribution over SMTP submission, port 587).

Contract: nothing is read at import time. `MailSettings()` reads `LG_MAIL_*` environment variables (and an
optional `.env`) when built; `get_mail_settings()` builds it once and caches it. Components take a
`MailSettings` argument, so tests pass their own server, CA file and (shorter) timeouts.

Transport security is not configurable away: the client always upgrades with STARTTLS and verifies the
server certificate (against `ca_file` when given, else the system trust store). Authentication is
OAuth2 (SASL XOAUTH2); the access token comes from a `TokenProvider`, an async callable the caller
injects. `StaticTokenProvider` serves a token from settings (`LG_MAIL_OAUTH_TOKEN`), for deployments
where another process refreshes it; a refreshing provider is any `async def () -> str`.
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from connectors.mail.addresses import normalize_address
from connectors.mail.errors import MailConfigError

TokenProvider = Callable[[], Awaitable[str]]
Language = Literal["zh-TW", "en"]

# The spec: "Large attachments (up to 25MB)". Measured on the encoded message as it goes on the wire.
SPEC_MAX_MESSAGE_BYTES = 25 * 1024 * 1024


class MailSettings(BaseSettings):
    """Where the submission server is, who we send as, how we authenticate, and the limits."""

    model_config = SettingsConfigDict(env_prefix="LG_MAIL_", env_file=".env", extra="ignore")

    host: str = Field(default="mail.luckygas.com", min_length=1)
    port: int = Field(default=587, ge=1, le=65535)
    # Name we announce in EHLO; None lets the library use the machine's FQDN.
    local_hostname: str | None = None

    sender_address: str = "reports@luckygas.com"
    sender_name: str = Field(default="幸運瓦斯 Lucky Gas", min_length=1, max_length=78)
    # Envelope sender (MAIL FROM): delivery status notifications (bounces) come back here.
    bounce_address: str | None = None
    reply_to: str | None = None

    # SASL XOAUTH2 user; defaults to the sender address (a mailbox or a service account).
    oauth_user: str | None = None
    # Only for StaticTokenProvider; leave unset when a refreshing provider is injected.
    oauth_token: SecretStr | None = None

    # PEM bundle of the CA(s) that sign the server certificate; None = the system trust store.
    ca_file: Path | None = None

    max_message_bytes: int = Field(default=SPEC_MAX_MESSAGE_BYTES, ge=64 * 1024)
    connect_timeout_seconds: float = Field(default=15.0, gt=0)
    # Per reply while sending one message; DATA of a 25 MB message over a slow uplink needs minutes.
    send_timeout_seconds: float = Field(default=300.0, gt=0)

    # Retried: connection errors, timeouts, 4xx replies. Never retried: 5xx replies, TLS and auth errors.
    max_retries: int = Field(default=3, ge=0, le=10)
    backoff_base_seconds: float = Field(default=2.0, gt=0)
    backoff_max_seconds: float = Field(default=60.0, gt=0)

    default_language: Language = "zh-TW"
    # Links in the branded header and footer.
    brand_url: str = "https://www.luckygas.com.tw"
    support_address: str = "support@luckygas.com"

    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_key_prefix: str = "lg:mail"

    @field_validator("sender_address", "bounce_address", "reply_to", "oauth_user", "support_address")
    @classmethod
    def _address_form(cls, value: str | None) -> str | None:
        return None if value is None else normalize_address(value)

    @field_validator("oauth_token")
    @classmethod
    def _token_not_blank(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            raise ValueError("oauth_token is blank; leave it unset instead")
        return value

    @field_validator("ca_file")
    @classmethod
    def _ca_file_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"ca_file {value} does not exist")
        return value

    @model_validator(mode="after")
    def _backoff_order(self) -> MailSettings:
        if self.backoff_max_seconds < self.backoff_base_seconds:
            raise ValueError("backoff_max_seconds must be >= backoff_base_seconds")
        return self

    @property
    def envelope_sender(self) -> str:
        """MAIL FROM address: the bounce address, else the sender address."""
        return self.bounce_address or self.sender_address

    @property
    def auth_user(self) -> str:
        """The XOAUTH2 user name: `oauth_user`, else the sender address."""
        return self.oauth_user or self.sender_address

    @property
    def sender_domain(self) -> str:
        """Domain used on the right of Message-IDs we generate."""
        return self.sender_address.rsplit("@", 1)[1]

    def tls_context(self) -> ssl.SSLContext:
        """A verifying client TLS context (hostname checked, TLS 1.2+), trusting `ca_file` when set."""
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=self.ca_file)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context


class StaticTokenProvider:
    """A `TokenProvider` that returns the configured `oauth_token` (refreshed elsewhere, e.g. a sidecar)."""

    def __init__(self, token: SecretStr | None) -> None:
        if token is None:
            raise MailConfigError("no OAuth2 token configured (LG_MAIL_OAUTH_TOKEN) and no token provider given")
        self._token = token

    @classmethod
    def from_settings(cls, settings: MailSettings) -> StaticTokenProvider:
        return cls(settings.oauth_token)

    async def __call__(self) -> str:
        return self._token.get_secret_value()


@lru_cache(maxsize=1)
def get_mail_settings() -> MailSettings:
    """The process-wide mail settings, built on first use."""
    return MailSettings()
