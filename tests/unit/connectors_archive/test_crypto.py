"""seal/open_sealed: roundtrip, metadata, and every way a sealed object can fail to verify."""

from __future__ import annotations

import base64
import gzip
import hashlib
import os

import pytest

from connectors.archive import crypto
from connectors.archive.errors import IntegrityError, UnknownKey
from connectors.archive.keys import Keyring, generate_key

BUCKET = "luckygas-report-archive"
NAME = "reports/2026/11/daily-sales-20261130T093000Z.csv.gz.enc"
DATA = ("日期,客戶,金額\n" + "2026-11-30,C000123,1620\n" * 500).encode("utf-8")


@pytest.fixture
def ring() -> Keyring:
    return Keyring({"k1": generate_key()})


def seal(ring: Keyring, data: bytes = DATA, name: str = NAME) -> crypto.Sealed:
    return crypto.seal(data, bucket=BUCKET, name=name, keys=ring)


@pytest.mark.parametrize("data", [b"", b"x", DATA, os.urandom(1 << 20)])
def test_roundtrip(ring: Keyring, data: bytes) -> None:
    sealed = seal(ring, data)
    assert crypto.open_sealed(sealed.blob, sealed.metadata, bucket=BUCKET, name=NAME, keys=ring) == data
    assert sealed.plaintext_size == len(data)


def test_metadata_describes_but_never_holds_the_key(ring: Keyring) -> None:
    sealed = seal(ring)
    key = ring.decryption_key("k1")
    assert sealed.metadata == {
        crypto.META_FORMAT: "1",
        crypto.META_ALGORITHM: "AES-256-GCM",
        crypto.META_COMPRESSION: "gzip",
        crypto.META_KEY_ID: "k1",
        crypto.META_NONCE: sealed.metadata[crypto.META_NONCE],
        crypto.META_SHA256: hashlib.sha256(DATA).hexdigest(),
        crypto.META_SIZE: str(len(DATA)),
    }
    assert len(base64.b64decode(sealed.metadata[crypto.META_NONCE])) == 12
    assert all(base64.b64encode(key).decode() not in v and key.hex() not in v for v in sealed.metadata.values())


def test_ciphertext_is_compressed_and_unreadable(ring: Keyring) -> None:
    sealed = seal(ring)
    assert len(sealed.blob) == sealed.compressed_size + 16  # GCM tag
    assert sealed.compressed_size < len(DATA) // 5
    assert b"C000123" not in sealed.blob
    with pytest.raises(OSError):
        gzip.decompress(sealed.blob)


def test_fresh_nonce_every_time(ring: Keyring) -> None:
    first, second = seal(ring), seal(ring)
    assert first.metadata[crypto.META_NONCE] != second.metadata[crypto.META_NONCE]
    assert first.blob != second.blob


@pytest.mark.parametrize("position", [0, 100, -1])
def test_any_flipped_byte_is_detected(ring: Keyring, position: int) -> None:
    sealed = seal(ring)
    blob = bytearray(sealed.blob)
    blob[position] ^= 0x80
    with pytest.raises(IntegrityError, match="failed authentication"):
        crypto.open_sealed(bytes(blob), sealed.metadata, bucket=BUCKET, name=NAME, keys=ring)


@pytest.mark.parametrize("cut", [0, 5, 16])
def test_truncated_object_is_detected(ring: Keyring, cut: int) -> None:
    sealed = seal(ring)
    with pytest.raises(IntegrityError):
        crypto.open_sealed(sealed.blob[:cut], sealed.metadata, bucket=BUCKET, name=NAME, keys=ring)


def test_wrong_key_with_the_same_id(ring: Keyring) -> None:
    sealed = seal(ring)
    impostor = Keyring({"k1": generate_key()})
    with pytest.raises(IntegrityError, match="is not the key"):
        crypto.open_sealed(sealed.blob, sealed.metadata, bucket=BUCKET, name=NAME, keys=impostor)


def test_unknown_key_id(ring: Keyring) -> None:
    sealed = seal(ring)
    with pytest.raises(UnknownKey, match="'k1'"):
        crypto.open_sealed(sealed.blob, sealed.metadata, bucket=BUCKET, name=NAME, keys=Keyring({"k2": generate_key()}))


@pytest.mark.parametrize(
    ("bucket", "name"),
    [(BUCKET, NAME.replace("20261130", "20261201")), ("luckygas-tax-archive", NAME), (BUCKET, NAME + " ")],
)
def test_object_cannot_be_swapped_to_another_place(ring: Keyring, bucket: str, name: str) -> None:
    sealed = seal(ring)
    with pytest.raises(IntegrityError, match="copied from another name"):
        crypto.open_sealed(sealed.blob, sealed.metadata, bucket=bucket, name=name, keys=ring)


def test_metadata_of_another_object_does_not_fit(ring: Keyring) -> None:
    mine, other = seal(ring, b"mine"), seal(ring, b"other")
    with pytest.raises(IntegrityError):
        crypto.open_sealed(mine.blob, other.metadata, bucket=BUCKET, name=NAME, keys=ring)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        (crypto.META_SHA256, hashlib.sha256(b"something else").hexdigest()),
        (crypto.META_SIZE, "1"),
        (crypto.META_KEY_ID, "k2"),
        (crypto.META_NONCE, base64.b64encode(b"\x00" * 12).decode()),
    ],
)
def test_altered_metadata_is_detected(ring: Keyring, field: str, value: str) -> None:
    ring2 = Keyring({"k1": ring.decryption_key("k1"), "k2": ring.decryption_key("k1")}, current_id="k1")
    sealed = seal(ring2)
    metadata = {**sealed.metadata, field: value}
    with pytest.raises(IntegrityError):
        crypto.open_sealed(sealed.blob, metadata, bucket=BUCKET, name=NAME, keys=ring2)


@pytest.mark.parametrize(
    "change",
    [
        {crypto.META_FORMAT: "2"},
        {crypto.META_ALGORITHM: "AES-128-GCM"},
        {crypto.META_COMPRESSION: "zstd"},
        {crypto.META_SIZE: "-1"},
        {crypto.META_SIZE: "ten"},
        {crypto.META_NONCE: "AAAA"},
        {crypto.META_NONCE: "not base64!"},
    ],
)
def test_malformed_or_unknown_metadata(ring: Keyring, change: dict[str, str]) -> None:
    sealed = seal(ring)
    with pytest.raises(IntegrityError):
        crypto.open_sealed(sealed.blob, {**sealed.metadata, **change}, bucket=BUCKET, name=NAME, keys=ring)


@pytest.mark.parametrize("metadata", [None, {}, {crypto.META_KEY_ID: "k1"}])
def test_missing_metadata(ring: Keyring, metadata: dict[str, str] | None) -> None:
    sealed = seal(ring)
    with pytest.raises(IntegrityError, match="lacks archive metadata"):
        crypto.open_sealed(sealed.blob, metadata, bucket=BUCKET, name=NAME, keys=ring)


def test_associated_data_is_unambiguous() -> None:
    # Moving a separator between bucket and name must not give the same bytes.
    a = crypto.associated_data(bucket="ab", name="c/d", key_id="k", sha256="0" * 64, size=1)
    b = crypto.associated_data(bucket="a", name="bc/d", key_id="k", sha256="0" * 64, size=1)
    assert a != b
