"""Typed settings for the bank-statement import (MT940 files pulled over SFTP), part of the one settings tree.

Contract: nothing is read at import time. `BankSettings` is the `bank` branch of `infra.settings.StackSettings`
(environment `LG_BANK__<FIELD>`, e.g. `LG_BANK__SFTP_HOST=sftp.bank.example`). Left unset, every file
location points into the stack's state directory (`<state_dir>/sftp/keys/...`, `<state_dir>/bank/...`), where
the local stack keeps its SFTP server's keys and the importer's local copies: `StackSettings` fills them in
(see `with_local_defaults`). Components receive a `BankSettings` as an argument.
"""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, SecretStr, model_validator


class BankSettings(BaseModel):
    """Where the bank's SFTP server is, how we prove who we are, and where fetched files go.

    The server's host key is pinned: give either `host_key` (an OpenSSH public-key line or a known_hosts
    line, e.g. ``[sftp.bank.example]:22 ssh-ed25519 AAAA...``) or `host_key_path` (a file holding such a
    line). Exactly one of the two must be set; no other key is ever trusted.
    """

    sftp_host: str = "127.0.0.1"
    sftp_port: int = Field(default=18022, ge=1, le=65535)
    sftp_username: str = "luckygas"
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

    local_archive_dir: Path
    exceptions_log_path: Path

    # Seconds between the two looks at a file's size and mtime; SFTP mtimes have 1 s resolution, so keep
    # this above 1 s in production.
    stable_check_delay_s: float = Field(default=5.0, ge=0)
    # The daily pull, in Asia/Taipei local time.
    run_at: time = time(6, 0)
    # Our own accounts (:25: values). Empty means "accept any account".
    known_accounts: frozenset[str] = frozenset()
    reconcile_window_days: int = Field(default=3, ge=0)
    # Reconciliation looks at the statements of this many days back from the newest one imported.
    reconcile_days: int = Field(default=35, ge=1)
    # Reconciliation is re-run this often (payments booked after their statement arrived), besides after
    # every landed file.
    reconcile_every_s: float = Field(default=300.0, gt=0)
    # The local stack writes this many days of statements (from the simulator's payments) into its SFTP inbox.
    local_statement_days: int = Field(default=3, ge=0)

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


def sftp_keys_dir(state_dir: Path) -> Path:
    """Where the local stack's SFTP server keeps its host key and our client key."""
    return state_dir / "sftp" / "keys"


def sftp_root_dir(state_dir: Path) -> Path:
    """The local SFTP server's root (its inbox is where the bank, here the simulator, drops statements)."""
    return state_dir / "sftp" / "root"


def with_local_defaults(raw: Any, state_dir: Path) -> Any:
    """Raw `bank` settings (a dict from the environment, or a `BankSettings`) with every unset location
    pointing into `state_dir`. A `BankSettings` instance is returned as it is."""
    if isinstance(raw, BankSettings):
        return raw
    values = dict(raw or {})
    keys = sftp_keys_dir(state_dir)
    values.setdefault("private_key_path", keys / "client_ed25519")
    if values.get("host_key") is None:
        values.setdefault("host_key_path", keys / "host_key.pub")
    values.setdefault("local_archive_dir", state_dir / "bank" / "archive")
    values.setdefault("exceptions_log_path", state_dir / "bank" / "exceptions.jsonl")
    return values
