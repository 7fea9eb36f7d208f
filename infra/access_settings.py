"""Typed settings of the access layer: token verification (`AccessSettings`), our own identity provider
(`IdentitySettings`) and the audit trail (`AuditSettings`); branches `access`, `identity` and `audit` of the
one settings tree (`infra.settings.StackSettings`, environment `LG_ACCESS__*`, `LG_IDENTITY__*`,
`LG_AUDIT__*`). Nothing is read at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel, Field, model_validator


class AccessSettings(BaseModel):
    """Who may call the API: how bearer access tokens (RFC 9068 JWTs) are verified, and where the role model is.

    Keys come from `jwks_url` (a company IdP or our own `/.well-known/jwks.json`) or else from `jwks_file`
    (a JWKS document; unset: `<state_dir>/auth/jwks.json`, see `key_file`). `leeway_seconds` is the clock
    skew allowed on exp/nbf/iat; `principal_cache_seconds` bounds how long an employee's row (branch, role,
    status) is reused before it is read again, so a transfer or leaving takes effect within that time.
    """

    # Signature algorithms a token may use: asymmetric only (a verifier never holds a signing secret).
    ASYMMETRIC_ALGORITHMS: ClassVar[frozenset[str]] = frozenset(
        {"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA"})

    issuer: str = "urn:luckygas:auth:local"
    audience: str = "luckygas-api"
    algorithms: list[str] = Field(default_factory=lambda: ["ES256"])
    jwks_url: str | None = None
    jwks_file: Path | None = None
    leeway_seconds: float = Field(default=30.0, ge=0, le=60)
    principal_cache_seconds: float = Field(default=2.0, ge=0, le=2)
    # A token valid for longer than this (exp - iat) is refused, whoever signed it.
    max_token_lifetime_seconds: int = Field(default=3600, gt=0)
    # The role model (roles, tables, masking); unset: api/access/roles.yaml.
    policy_file: Path | None = None

    @model_validator(mode="after")
    def _asymmetric_algorithms_only(self) -> AccessSettings:
        refused = set(self.algorithms) - self.ASYMMETRIC_ALGORITHMS
        if not self.algorithms or refused:
            raise ValueError(f"access.algorithms must be a non-empty subset of "
                             f"{sorted(self.ASYMMETRIC_ALGORITHMS)}; refused: {sorted(refused)}")
        return self

    def key_file(self, state_dir: Path) -> Path:
        """The JWKS file read when no `jwks_url` is set."""
        return self.jwks_file if self.jwks_file is not None else state_dir / "auth" / "jwks.json"


class IdentitySettings(BaseModel):
    """The identity provider: tokens, keys, sessions, MFA, API keys, rate limits and lockout."""

    # Must equal `AccessSettings.issuer` / `.audience`, which the API's token verifier checks.
    issuer: str = "urn:luckygas:auth:local"
    audience: str = "luckygas-api"
    # Where the API (and so the token endpoint) is reached: the base of the metadata's endpoint URLs.
    public_url: str = "https://127.0.0.1:18000"
    access_token_minutes: int = Field(default=15, ge=1, le=60)
    # Each refresh token lives this long unused; a session (one token family) at most `session_max_hours`.
    refresh_token_hours: int = Field(default=12, ge=1)
    session_max_hours: int = Field(default=7 * 24, ge=1)
    # Where the signing keys (and the key that encrypts TOTP secrets) live; None: `<state_dir>/auth/keys`.
    # The public JWKS is also written to `AccessSettings.key_file` (`<state_dir>/auth/jwks.json`) for verifiers.
    key_dir: Path | None = None
    # Keys published in the JWKS on first start: the signer and the next one (rotation without an outage).
    published_keys: int = Field(default=2, ge=1, le=5)
    # The OAuth client staff sign in through (public: no secret), and the scopes people get.
    web_client_id: str = "luckygas-web"
    person_scopes: list[str] = Field(default_factory=lambda: ["reports"])
    totp_issuer: str = "Lucky Gas"
    # API keys for outside systems: longest lifetime a key may be given, how long a verified key is cached.
    api_key_max_days: int = Field(default=366, ge=1)
    api_key_default_days: int = Field(default=90, ge=1)
    api_key_cache_seconds: float = Field(default=2.0, ge=0, le=30)
    api_key_role: str = "integration"
    # Redis shared by every API process: rate limits (moving window, `limits` notation) and lockout.
    redis_url: str = "redis://127.0.0.1:16379/0"
    redis_key_prefix: str = "lg:identity"
    rate_limit_principal: str = "600/minute"
    rate_limit_api_key: str = "120/minute"
    # The token endpoint: per client IP and per login name (stricter: passwords are guessed there).
    rate_limit_token_ip: str = "30/minute"
    rate_limit_token_login: str = "10/minute"
    lockout_threshold: int = Field(default=5, ge=1)
    lockout_window_minutes: int = Field(default=15, ge=1)
    lockout_minutes: int = Field(default=15, ge=1)
    # Requests from these proxies may name the client in X-Forwarded-For (IP allow-lists, rate limits).
    trusted_proxies: list[str] = Field(default_factory=list)

    def keys_in(self, state_dir: Path) -> Path:
        """The key directory: `key_dir` if set, else `<state_dir>/auth/keys`."""
        return self.key_dir or state_dir / "auth" / "keys"


class AuditSettings(BaseModel):
    """How the audit trail behaves (the lead may put it on StackSettings as `audit`)."""

    # The spec's retention for tax-relevant records (營業稅 and other tax records are kept 7 years).
    retention_years: int = Field(default=7, ge=1)
    # PostgreSQL role the API writes as (INSERT and SELECT only); None: the DSN's own role.
    writer_role: str | None = None
    # Paths never audited as data access: operations probes, the API docs, and sign-in (recorded by auth itself).
    unaudited_paths: tuple[str, ...] = ("/health", "/metrics", "/docs", "/redoc", "/openapi.json", "/oauth/",
                                        "/.well-known/", "/mfa/")
    # A response is held (and hashed) up to this size before it is sent; beyond it the record is written
    # first and the rest streams out (bytes and content hash are then not recorded).
    max_held_bytes: int = 16 * 1024 * 1024
    # Longest wait for the store before a request is refused.
    timeout_seconds: float = Field(default=5.0, gt=0)
    # ClickHouse users whose query_log entries the auditor view leaves out (the API's and worker's own
    # user: their reads are audited here already). None: the configured ClickHouse user.
    clickhouse_excluded_users: tuple[str, ...] | None = None
