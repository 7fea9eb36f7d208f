"""BankSettings (the `bank` branch of the settings tree, LG_BANK__*), and parsing of the pinned host key."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import asyncssh
import pytest
from pydantic import ValidationError

from connectors.bank.settings import BankSettings
from connectors.bank.sftp_fetch import pinned_host_keys
from infra.settings import StackSettings, settings_env


@pytest.fixture(scope="module")
def host_key_line() -> str:
    key = asyncssh.generate_private_key("ssh-ed25519", comment="bank-sftp")
    return key.export_public_key().decode().strip()


def test_settings_come_from_lg_bank_variables(monkeypatch: pytest.MonkeyPatch, host_key_line: str) -> None:
    monkeypatch.setenv("LG_BANK__SFTP_HOST", "sftp.bank.example")
    monkeypatch.setenv("LG_BANK__SFTP_PORT", "2222")
    monkeypatch.setenv("LG_BANK__SFTP_USERNAME", "luckygas")
    monkeypatch.setenv("LG_BANK__PRIVATE_KEY_PATH", "/etc/luckygas/bank_ed25519")
    monkeypatch.setenv("LG_BANK__PRIVATE_KEY_PASSPHRASE", "s3cret")
    monkeypatch.setenv("LG_BANK__HOST_KEY", host_key_line)
    monkeypatch.setenv("LG_BANK__KNOWN_ACCOUNTS", '["0081234567890"]')
    monkeypatch.setenv("LG_BANK__STABLE_CHECK_DELAY_S", "10")
    settings = StackSettings(_env_file=None).bank
    assert (settings.sftp_host, settings.sftp_port, settings.sftp_username) == ("sftp.bank.example", 2222, "luckygas")
    assert settings.private_key_path == Path("/etc/luckygas/bank_ed25519")
    assert settings.private_key_passphrase is not None
    assert "s3cret" not in repr(settings)
    assert settings.known_accounts == frozenset({"0081234567890"})
    assert settings.run_at == time(6, 0) and settings.stable_check_delay_s == 10
    assert settings.pinned_host_key_text() == host_key_line
    assert settings.host_key_path is None  # the given key, not the local stack's key file


def test_unset_locations_point_into_the_state_dir_and_survive_a_child_process(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = StackSettings(_env_file=None, state_dir=tmp_path)
    bank = settings.bank
    assert bank.private_key_path == tmp_path / "sftp" / "keys" / "client_ed25519"
    assert bank.host_key_path == tmp_path / "sftp" / "keys" / "host_key.pub" and bank.host_key is None
    assert bank.local_archive_dir == tmp_path / "bank" / "archive"
    for name, value in settings_env(settings.model_copy(update={"bank": bank.model_copy(
            update={"known_accounts": frozenset({"0081234567890"}), "run_at": time(5, 30)})})).items():
        monkeypatch.setenv(name, value)
    rebuilt = StackSettings(_env_file=None).bank
    assert rebuilt.known_accounts == frozenset({"0081234567890"}) and rebuilt.run_at == time(5, 30)
    assert rebuilt.private_key_path == bank.private_key_path


def test_exactly_one_pinned_host_key_form(tmp_path: Path, host_key_line: str) -> None:
    base = {"private_key_path": tmp_path / "k", "local_archive_dir": tmp_path / "a",
            "exceptions_log_path": tmp_path / "e.jsonl"}
    with pytest.raises(ValidationError, match="exactly one"):
        BankSettings.model_validate(base)
    with pytest.raises(ValidationError, match="exactly one"):
        BankSettings.model_validate({**base, "host_key": host_key_line, "host_key_path": tmp_path / "k.pub"})
    (tmp_path / "k.pub").write_text(host_key_line + "\n")
    from_path = BankSettings.model_validate({**base, "host_key_path": tmp_path / "k.pub"})
    assert from_path.pinned_host_key_text().strip() == host_key_line


def test_pinned_host_keys_accept_public_key_and_known_hosts_lines(host_key_line: str) -> None:
    key_type, blob, _ = host_key_line.split()
    expected = asyncssh.import_public_key(host_key_line)
    for text in (host_key_line, f"[sftp.bank.example]:2222 {key_type} {blob}", f"# pinned\n{key_type} {blob}\n"):
        (key,) = pinned_host_keys(text)
        assert key == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "holds no key"), ("sftp.bank.example", "no public key"), ("@cert-authority * ssh-ed25519 AAAA", "@cert")],
)
def test_pinned_host_keys_refuse_non_keys(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        pinned_host_keys(text)
