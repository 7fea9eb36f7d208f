"""Client-side encryption keys: a `KeyProvider` protocol and `Keyring`, its environment/file implementation.

Contract: `encryption_key()` returns `(key_id, key)` of the NEWEST key (the one new objects are sealed with);
`decryption_key(key_id)` returns the key an object names in its metadata, or raises `UnknownKey`. Keys are
32 bytes (AES-256). Key ids are short tokens ([A-Za-z0-9._-], at most 64) because they go into object metadata
and into the AES-GCM associated data.

Keys are never stored beside the data: the archive writes only the key id into object metadata. The material
comes from a secret environment variable (`LG_ARCHIVE_KEYS=id:base64[,id:base64...]`) or from a JSON key file
on the host, `{"current": "k2026-11", "keys": {"k2026-05": "<base64>", "k2026-11": "<base64>"}}`, which must
not be readable by group or others. Rotation: add a new key and make it current; keep old keys as long as
objects sealed with them exist (GCS tax retention: 7 years), or re-encrypt those objects first.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from connectors.archive.errors import KeyringError, UnknownKey
from connectors.archive.settings import ArchiveSettings

KEY_BYTES = 32
_KEY_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class KeyProvider(Protocol):
    """Where the archive gets its keys; any object with these two methods will do (e.g. a KMS-backed one)."""

    def encryption_key(self) -> tuple[str, bytes]:
        """(key id, 32-byte key) to seal new objects with: the newest key."""
        ...

    def decryption_key(self, key_id: str) -> bytes:
        """The 32-byte key with this id; raises `UnknownKey` if there is none."""
        ...


def generate_key() -> bytes:
    """A fresh random AES-256 key (for setting up a keyring; print it base64-encoded into the secret store)."""
    return os.urandom(KEY_BYTES)


def _decode_key(key_id: str, encoded: str) -> bytes:
    try:
        key = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyringError(f"key {key_id!r} is not valid base64") from exc
    if len(key) != KEY_BYTES:
        raise KeyringError(f"key {key_id!r} has {len(key)} bytes, AES-256 needs {KEY_BYTES}")
    return key


class Keyring:
    """A fixed set of keys by id; one of them (`current_id`) encrypts, all decrypt. Implements `KeyProvider`."""

    def __init__(self, keys: Mapping[str, bytes], current_id: str | None = None) -> None:
        """`keys` in the order given; without `current_id` the last key is current (the newest, by convention)."""
        if not keys:
            raise KeyringError("the keyring is empty: give at least one key")
        for key_id, key in keys.items():
            if not _KEY_ID_RE.match(key_id):
                raise KeyringError(f"bad key id {key_id!r}: use 1-64 of A-Z a-z 0-9 . _ -")
            if len(key) != KEY_BYTES:
                raise KeyringError(f"key {key_id!r} has {len(key)} bytes, AES-256 needs {KEY_BYTES}")
        self._keys = dict(keys)
        self.current_id = current_id if current_id is not None else list(keys)[-1]
        if self.current_id not in self._keys:
            raise KeyringError(f"current key id {self.current_id!r} is not in the keyring")

    def __repr__(self) -> str:  # never show key material
        return f"Keyring(ids={list(self._keys)!r}, current_id={self.current_id!r})"

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    def encryption_key(self) -> tuple[str, bytes]:
        return self.current_id, self._keys[self.current_id]

    def decryption_key(self, key_id: str) -> bytes:
        try:
            return self._keys[key_id]
        except KeyError:
            raise UnknownKey(key_id) from None

    @classmethod
    def from_spec(cls, spec: str, current_id: str | None = None) -> Keyring:
        """Parse `id:base64[,id:base64...]` (the `LG_ARCHIVE_KEYS` form); whitespace around items is ignored."""
        keys: dict[str, bytes] = {}
        for item in spec.split(","):
            if not item.strip():
                continue
            key_id, sep, encoded = item.strip().partition(":")
            if not sep:
                raise KeyringError("LG_ARCHIVE_KEYS items must look like id:base64key")
            if key_id in keys:
                raise KeyringError(f"key id {key_id!r} given twice")
            keys[key_id] = _decode_key(key_id, encoded)
        return cls(keys, current_id)

    @classmethod
    def from_file(cls, path: Path, current_id: str | None = None) -> Keyring:
        """Load `{"current": id, "keys": {id: base64}}`; `current_id` (from settings) overrides the file's.

        Refuses a file that group or others may read or write: key material must be readable by the service
        account alone.
        """
        try:
            mode = path.stat().st_mode
        except OSError as exc:
            raise KeyringError(f"cannot read key file {path}: {exc.strerror}") from exc
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyringError(f"key file {path} is accessible to group/others (mode {oct(mode & 0o777)}); chmod 600")
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise KeyringError(f"key file {path} is not readable JSON") from exc
        if not isinstance(document, dict) or not isinstance(document.get("keys"), dict):
            raise KeyringError(f'key file {path} must be {{"current": id, "keys": {{id: base64}}}}')
        encoded_keys: dict[str, object] = document["keys"]
        keys: dict[str, bytes] = {}
        for key_id, encoded in encoded_keys.items():
            if not isinstance(encoded, str):
                raise KeyringError(f"key {key_id!r} in {path} must be a base64 string")
            keys[key_id] = _decode_key(key_id, encoded)
        file_current = document.get("current")
        if file_current is not None and not isinstance(file_current, str):
            raise KeyringError(f'"current" in {path} must be a key id')
        return cls(keys, current_id if current_id is not None else file_current)


def keyring_from_settings(settings: ArchiveSettings) -> Keyring:
    """The keyring the settings point at (exactly one source is configured; the settings enforce that)."""
    if settings.keys is not None:
        return Keyring.from_spec(settings.keys.get_secret_value(), settings.current_key_id)
    if settings.key_file is None:  # unreachable with validated settings; kept for type narrowing
        raise KeyringError("no key source configured")
    return Keyring.from_file(settings.key_file, settings.current_key_id)
