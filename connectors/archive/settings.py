"""Typed settings of the report archive connector (Google Cloud Storage, `LG_ARCHIVE_*`).

Contract: nothing is read at import time. `ArchiveSettings()` reads `LG_ARCHIVE_*` environment variables (and an
optional `.env`) when built; `get_archive_settings()` builds it once and caches it. Components receive an
`ArchiveSettings` as an argument, so tests pass their own endpoint, buckets, keys and access-log path.

Encryption keys never live in a bucket or beside the data: they come either from `LG_ARCHIVE_KEYS` (a secret,
`id:base64key[,id:base64key...]`) or from `LG_ARCHIVE_KEY_FILE`, a JSON file on the host (see `keys.py`).
Several keys may be given (rotation): the one named by `current_key_id` (default: the last one listed)
encrypts, all of them decrypt.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from infra.settings import PROJECT_ROOT

# GCS bucket names: 3-63 characters of lowercase letters, digits, '-', '_' and '.', starting and ending with a
# letter or digit (dotted names up to 222 are allowed but need domain verification; we do not use them).
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{1,61}[a-z0-9]$")
# GCS caps a bucket retention period at 100 years.
MAX_RETENTION_YEARS = 100


class ArchiveSettings(BaseSettings):
    """Where the archive lives, how long things stay in each storage class, and where the keys come from."""

    model_config = SettingsConfigDict(env_prefix="LG_ARCHIVE_", env_file=".env", extra="ignore")

    project: str = "luckygas-analytics"
    # None = the real Google Cloud Storage with Application Default Credentials (the service account).
    # A URL (e.g. http://127.0.0.1:4443) = an emulator such as fake-gcs-server, reached anonymously.
    endpoint: str | None = None
    reports_bucket: str = "luckygas-report-archive"
    # Tax documents live apart: a retention policy and object versioning cannot be used on the same bucket.
    tax_bucket: str = "luckygas-tax-archive"
    location: str = "ASIA-EAST1"

    # Lifecycle (spec: hot 90 days, cool 90 days-1 year, archive > 1 year). "Cool" maps to COLDLINE.
    coldline_after_days: int = Field(default=90, ge=1)
    archive_after_days: int = Field(default=365, ge=1)
    tax_retention_years: int = Field(default=7, ge=1, le=MAX_RETENTION_YEARS)
    # Optional Cloud KMS key (projects/.../cryptoKeys/...) set as the buckets' default key, on top of the
    # client-side encryption that always happens.
    kms_key_name: str | None = None

    # Client-side encryption keys: exactly one of the two sources.
    keys: SecretStr | None = None
    key_file: Path | None = None
    current_key_id: str | None = None

    # gzip level for the compression that precedes encryption (1 fast .. 9 small).
    compress_level: int = Field(default=6, ge=1, le=9)
    # Refuse to archive more than this (plaintext bytes); the whole object is held in memory.
    max_object_bytes: int = Field(default=512 * 1024 * 1024, ge=1)
    request_timeout_seconds: float = Field(default=120.0, gt=0)

    # Local JSONL access log (ship it to the log store like the other logs); default under the git-ignored .state/.
    access_log_path: Path = PROJECT_ROOT / ".state" / "archive" / "access.jsonl"
    # Who is recorded in the access log when a call does not name an actor.
    actor: str = Field(default="report-archive", min_length=1)

    @field_validator("reports_bucket", "tax_bucket")
    @classmethod
    def _bucket_name(cls, value: str) -> str:
        if not _BUCKET_RE.match(value) or ".." in value:
            raise ValueError(f"not a valid GCS bucket name: {value!r} (3-63 of a-z 0-9 - _)")
        return value

    @field_validator("endpoint")
    @classmethod
    def _endpoint_form(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("endpoint must start with http:// or https:// (or be empty for the real GCS)")
        return value.rstrip("/")

    @field_validator("location")
    @classmethod
    def _location_upper(cls, value: str) -> str:
        # GCS reports locations in upper case; comparing an existing bucket's location needs one form.
        return value.strip().upper()

    @model_validator(mode="after")
    def _consistent(self) -> ArchiveSettings:
        if self.archive_after_days <= self.coldline_after_days:
            raise ValueError("archive_after_days must be greater than coldline_after_days")
        if self.reports_bucket == self.tax_bucket:
            raise ValueError("tax_bucket must differ from reports_bucket (retention excludes versioning)")
        if (self.keys is None) == (self.key_file is None):
            raise ValueError("give exactly one key source: LG_ARCHIVE_KEYS or LG_ARCHIVE_KEY_FILE")
        return self


@lru_cache(maxsize=1)
def get_archive_settings() -> ArchiveSettings:
    """The process-wide archive settings, built on first use (fails then if no key source is configured)."""
    return ArchiveSettings()
