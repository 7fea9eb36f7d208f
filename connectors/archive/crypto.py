"""Seal and open archived objects: gzip, then AES-256-GCM with a random 96-bit nonce.

Contract:
- `seal(data, bucket=, name=, keys=)` compresses `data`, encrypts it with the provider's current key and returns
  the bytes to upload plus the object metadata to upload with them. The metadata holds the format version,
  algorithm, key id, nonce, and the plaintext's SHA-256 and size; never the key.
- `open_sealed(blob, metadata, bucket=, name=, keys=)` reverses it and returns the original bytes, or raises
  `IntegrityError` when anything does not verify (tag, metadata, checksum, size) and `UnknownKey` when the key
  id is not in the keyring. It never returns partially verified data.

The associated data binds the ciphertext to its place and description: format, algorithm, compression,
bucket, object name, key id, plaintext SHA-256 and size. So an object copied or renamed to another name or
bucket, or given another object's metadata, fails to open, as does any changed byte.

Nonces are random (96 bits); NIST SP 800-38D bounds random-nonce use to 2**32 messages per key, far above the
archive's volume, and rotation (a new current key) resets the count.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import json
import os
import zlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from connectors.archive.errors import IntegrityError
from connectors.archive.keys import KeyProvider

FORMAT_VERSION = "1"
ALGORITHM = "AES-256-GCM"
COMPRESSION = "gzip"
NONCE_BYTES = 12

# Object metadata keys (GCS custom metadata, x-goog-meta-*).
META_FORMAT = "lg-archive-format"
META_ALGORITHM = "lg-enc-alg"
META_COMPRESSION = "lg-compression"
META_KEY_ID = "lg-key-id"
META_NONCE = "lg-nonce"
META_SHA256 = "lg-sha256"
META_SIZE = "lg-size"
_REQUIRED = (META_FORMAT, META_ALGORITHM, META_COMPRESSION, META_KEY_ID, META_NONCE, META_SHA256, META_SIZE)


@dataclass(frozen=True, slots=True)
class Sealed:
    """What to upload: `blob` (ciphertext with the 16-byte tag at its end) and `metadata`."""

    blob: bytes
    metadata: dict[str, str]
    plaintext_size: int
    compressed_size: int
    sha256: str
    key_id: str


def associated_data(
    *, bucket: str, name: str, key_id: str, sha256: str, size: int, algorithm: str = ALGORITHM,
    compression: str = COMPRESSION, version: str = FORMAT_VERSION,
) -> bytes:
    """The AES-GCM associated data: a JSON array, so no two different field tuples encode the same bytes."""
    fields = [version, algorithm, compression, bucket, name, key_id, sha256, size]
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def seal(data: bytes, *, bucket: str, name: str, keys: KeyProvider, compress_level: int = 6) -> Sealed:
    """Compress and encrypt `data` for `gs://bucket/name` with the keyring's current key."""
    key_id, key = keys.encryption_key()
    digest = hashlib.sha256(data).hexdigest()
    # mtime=0: the gzip header then carries no timestamp, so equal content compresses to equal bytes.
    compressed = gzip.compress(data, compresslevel=compress_level, mtime=0)
    nonce = os.urandom(NONCE_BYTES)
    aad = associated_data(bucket=bucket, name=name, key_id=key_id, sha256=digest, size=len(data))
    blob = AESGCM(key).encrypt(nonce, compressed, aad)
    metadata = {
        META_FORMAT: FORMAT_VERSION,
        META_ALGORITHM: ALGORITHM,
        META_COMPRESSION: COMPRESSION,
        META_KEY_ID: key_id,
        META_NONCE: base64.b64encode(nonce).decode("ascii"),
        META_SHA256: digest,
        META_SIZE: str(len(data)),
    }
    return Sealed(blob, metadata, len(data), len(compressed), digest, key_id)


def _inflate(compressed: bytes, expected_size: int) -> bytes:
    # Bounded by the authenticated size, so a forged huge stream cannot exhaust memory.
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(compressed, expected_size + 1)
    except zlib.error as exc:
        raise IntegrityError(f"decrypted content is not valid gzip: {exc}") from exc
    if len(data) != expected_size or not inflater.eof or inflater.unused_data or inflater.unconsumed_tail:
        raise IntegrityError(f"decompressed size differs from the recorded {expected_size} bytes")
    return data


def open_sealed(blob: bytes, metadata: dict[str, str] | None, *, bucket: str, name: str, keys: KeyProvider) -> bytes:
    """Verify and decrypt an archived object; the returned bytes equal what was sealed, or an error is raised."""
    where = f"gs://{bucket}/{name}"
    meta = metadata or {}
    missing = [field for field in _REQUIRED if field not in meta]
    if missing:
        raise IntegrityError(f"{where} lacks archive metadata {missing}: not written by the archive, or stripped")
    known = (FORMAT_VERSION, ALGORITHM, COMPRESSION)
    if (meta[META_FORMAT], meta[META_ALGORITHM], meta[META_COMPRESSION]) != known:
        raise IntegrityError(
            f"{where} uses format {meta[META_FORMAT]!r} / {meta[META_ALGORITHM]!r} / {meta[META_COMPRESSION]!r}, "
            f"this reader knows {FORMAT_VERSION!r} / {ALGORITHM!r} / {COMPRESSION!r}"
        )
    try:
        size = int(meta[META_SIZE])
        nonce = base64.b64decode(meta[META_NONCE], validate=True)
    except (ValueError, binascii.Error) as exc:
        raise IntegrityError(f"{where} has malformed size or nonce metadata") from exc
    if size < 0 or len(nonce) != NONCE_BYTES:
        raise IntegrityError(f"{where} has malformed size or nonce metadata")
    key_id = meta[META_KEY_ID]
    key = keys.decryption_key(key_id)
    aad = associated_data(bucket=bucket, name=name, key_id=key_id, sha256=meta[META_SHA256], size=size)
    try:
        compressed = AESGCM(key).decrypt(nonce, blob, aad)
    except InvalidTag:
        raise IntegrityError(
            f"{where} failed authentication (AES-GCM tag): its bytes or metadata were altered, it was copied from "
            f"another name, or key {key_id!r} is not the key it was sealed with"
        ) from None
    data = _inflate(compressed, size)
    if hashlib.sha256(data).hexdigest() != meta[META_SHA256]:
        raise IntegrityError(f"{where}: SHA-256 of the decrypted content differs from the recorded one")
    return data
