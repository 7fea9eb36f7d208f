"""Keyring: the env spec and key-file forms, rotation (newest encrypts, all decrypt), refusals."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from connectors.archive.errors import KeyringError, UnknownKey
from connectors.archive.keys import KEY_BYTES, Keyring, generate_key, keyring_from_settings
from connectors.archive.settings import ArchiveSettings

OLD, NEW = generate_key(), generate_key()


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def test_generated_keys_are_random_aes256() -> None:
    assert len(OLD) == KEY_BYTES and OLD != NEW


def test_spec_last_key_encrypts_all_decrypt() -> None:
    ring = Keyring.from_spec(f"2026-05:{b64(OLD)}, 2026-11:{b64(NEW)}")
    assert ring.encryption_key() == ("2026-11", NEW)
    assert ring.decryption_key("2026-05") == OLD
    assert ring.key_ids == ("2026-05", "2026-11")


def test_current_id_overrides_order() -> None:
    ring = Keyring.from_spec(f"2026-05:{b64(OLD)},2026-11:{b64(NEW)}", current_id="2026-05")
    assert ring.encryption_key() == ("2026-05", OLD)


def test_unknown_id_raises_unknown_key() -> None:
    with pytest.raises(UnknownKey):
        Keyring({"a": OLD}).decryption_key("b")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty"),
        ("nokey", "id:base64key"),
        (f"a:{b64(OLD)},a:{b64(NEW)}", "twice"),
        ("a:not*base64", "base64"),
        (f"a:{b64(OLD[:16])}", "16 bytes"),
        (f"bad id:{b64(OLD)}", "bad key id"),
    ],
)
def test_bad_specs(spec: str, message: str) -> None:
    with pytest.raises(KeyringError, match=message):
        Keyring.from_spec(spec)


def test_current_must_exist() -> None:
    with pytest.raises(KeyringError, match="not in the keyring"):
        Keyring({"a": OLD}, current_id="b")


def test_repr_never_shows_key_material() -> None:
    text = repr(Keyring({"a": OLD}))
    assert b64(OLD) not in text and OLD.hex() not in text and "'a'" in text


def write_key_file(path: Path, document: object, mode: int = 0o600) -> Path:
    path.write_text(json.dumps(document))
    path.chmod(mode)
    return path


def test_key_file(tmp_path: Path) -> None:
    path = write_key_file(tmp_path / "keys.json", {"current": "old", "keys": {"old": b64(OLD), "new": b64(NEW)}})
    assert Keyring.from_file(path).encryption_key() == ("old", OLD)
    assert Keyring.from_file(path, current_id="new").encryption_key() == ("new", NEW)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660])
def test_key_file_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = write_key_file(tmp_path / "keys.json", {"keys": {"a": b64(OLD)}}, mode)
    with pytest.raises(KeyringError, match="chmod 600"):
        Keyring.from_file(path)


@pytest.mark.parametrize(
    "document", [[], {"keys": []}, {"keys": {"a": 5}}, {"keys": {"a": b64(OLD)}, "current": 3}]
)
def test_malformed_key_file(tmp_path: Path, document: object) -> None:
    with pytest.raises(KeyringError):
        Keyring.from_file(write_key_file(tmp_path / "keys.json", document))


def test_missing_key_file(tmp_path: Path) -> None:
    with pytest.raises(KeyringError, match="cannot read key file"):
        Keyring.from_file(tmp_path / "absent.json")


def test_from_settings_env_and_file(tmp_path: Path) -> None:
    from_env = keyring_from_settings(ArchiveSettings(_env_file=None, keys=f"e1:{b64(OLD)}"))
    assert from_env.encryption_key() == ("e1", OLD)
    path = write_key_file(tmp_path / "keys.json", {"keys": {"f1": b64(NEW)}})
    from_file = keyring_from_settings(ArchiveSettings(_env_file=None, key_file=path))
    assert from_file.encryption_key() == ("f1", NEW)
