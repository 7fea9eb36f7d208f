"""The local SFTP server's keys: generated once, secret files private, the pinned line matching the key."""

from __future__ import annotations

import stat
from pathlib import Path

import asyncssh

from connectors.bank.sftp_fetch import pinned_host_keys
from infra.sftp.runner import ensure_keys


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_keys_are_generated_once_and_secret_files_are_private(tmp_path: Path) -> None:
    keys_dir = tmp_path / "sftp" / "keys"
    first = ensure_keys(keys_dir)
    contents = {p.name: p.read_bytes() for p in keys_dir.iterdir()}
    assert sorted(contents) == ["authorized_keys", "client_ed25519", "client_ed25519.pub", "host_key", "host_key.pub"]
    assert _mode(keys_dir) == 0o700
    assert _mode(first.host_key) == _mode(first.client_key) == _mode(first.authorized_keys) == 0o600
    again = ensure_keys(keys_dir)
    assert again == first
    assert {p.name: p.read_bytes() for p in keys_dir.iterdir()} == contents  # nothing regenerated


def test_the_public_files_belong_to_the_private_keys(tmp_path: Path) -> None:
    keys = ensure_keys(tmp_path)
    host = asyncssh.read_private_key(keys.host_key)
    assert keys.host_key_line().startswith("ssh-ed25519 ")
    (pinned,) = pinned_host_keys(keys.host_key_line())
    assert pinned.public_data == host.public_data
    client = asyncssh.read_private_key(keys.client_key)
    authorized = asyncssh.read_authorized_keys(str(keys.authorized_keys))
    assert authorized.validate(client.convert_to_public(), "127.0.0.1", "127.0.0.1") is not None


def test_missing_derived_files_are_rebuilt_from_the_private_keys(tmp_path: Path) -> None:
    keys = ensure_keys(tmp_path)
    host_line, authorized = keys.host_key_line(), keys.authorized_keys.read_bytes()
    keys.host_key_pub.unlink()
    keys.authorized_keys.unlink()
    again = ensure_keys(tmp_path)
    assert again.host_key_line() == host_line and again.authorized_keys.read_bytes() == authorized
