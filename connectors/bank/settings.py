"""Typed settings for the bank-statement connector (MT940 files pulled over SFTP).

Contract: nothing is read at import time. `BankSettings()` reads `LG_BANK_*` environment variables (and an
optional `.env`) when it is built; `get_bank_settings()` builds it once and caches it. Components receive a
`BankSettings` as an argument, so tests pass their own server, keys and directories.
"""

from __future__ import annotations

from datetime import time
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from infra.settings import PROJECT_ROOT

_BANK_STATE = PROJECT_ROOT / ".state" / "bank"


class BankSettings(BaseSettings):
    """Where the bank's SFTP server is, how we prove who we are, and where fetched files go.

    The server's host key is pinned: give either `host_key` (an OpenSSH public-key line or a known_hosts
    line, e.g. ``[sftp.bank.example]:22 ssh-ed25519 AAAA...``) or `host_key_path` (a file holding such a
    line). Exactly one of the two must be set; no other key is ever trusted.
    """

    model_config = SettingsConfigDict(env_prefix="LG_BANK_", env_file=".env", extra="ignore")

    sftp_host: str
    sftp_port: int = Field(default=22, ge=1, le=65535)
    sftp_username: str
    private_key_path: Path
    private_key_passphrase: SecretStr | None = None
    host_key: str | None = None
    host_key_path: Path | None = None
    connect_timeout_s: float = Field(default=30.0, gt=0)

    remote_inbox_dir: str = "/inbox"
    remote_archive_dir: str = "/archive"
    # Rejected files are moved aside too, so they are not fetched and rejected again every morning.
    remote_rejected_dir: str = "/rejected"
    # Only names matching this glob are statement files (banks drop .sta, .txt, .mt940 ...).
    file_glob: str = "*"

    local_archive_dir: Path = _BANK_STATE / "archive"
    seen_store_path: Path = _BANK_STATE / "seen-statements.sqlite3"
    exceptions_log_path: Path = _BANK_STATE / "exceptions.jsonl"

    # Seconds between the two looks at a file's size and mtime; SFTP mtimes have 1 s resolution, so keep
    # this above 1 s in production.
    stable_check_delay_s: float = Field(default=5.0, ge=0)
    # The daily pull, in Asia/Taipei local time.
    run_at: time = time(6, 0)
    # Our own accounts (:25: values). Empty means "accept any account".
    known_accounts: frozenset[str] = frozenset()
    reconcile_window_days: int = Field(default=3, ge=0)

    @model_validator(mode="after")
    def _exactly_one_host_key(self) -> BankSettings:
        if (self.host_key is None) == (self.host_key_path is None):
            raise ValueError("set exactly one of host_key and host_key_path (the pinned SFTP host key)")
        return self

    def pinned_host_key_text(self) -> str:
        """The pinned host key line, read from `host_key_path` when that is the form given."""
        if self.host_key is not None:
            return self.host_key
        assert self.host_key_path is not None  # guaranteed by _exactly_one_host_key
        return self.host_key_path.read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def get_bank_settings() -> BankSettings:
    """The process-wide bank settings, built on first use (fails then if required values are missing)."""
    return BankSettings()
