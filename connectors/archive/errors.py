"""Typed errors of the report archive connector; every error raised on purpose is an `ArchiveError`."""

from __future__ import annotations


class ArchiveError(Exception):
    """Base class of every error this connector raises on purpose."""


class ArchiveConfigError(ArchiveError):
    """Settings, keys or an existing bucket do not fit what the archive needs (e.g. a bucket in the wrong
    location, versioning on the tax bucket, a key file others can read)."""


class KeyringError(ArchiveError):
    """The keyring cannot be loaded or used: malformed key material, bad key id, unsafe key file."""


class UnknownKey(KeyringError):
    """An object was encrypted with a key id the key provider does not have (retired or never loaded)."""

    def __init__(self, key_id: str) -> None:
        self.key_id = key_id
        super().__init__(f"no decryption key with id {key_id!r}: load the keyring that contains it")


class IntegrityError(ArchiveError):
    """An archived object failed verification: its authentication tag, its metadata or the checksum of the
    decompressed content does not match. The object was altered, moved to another name, or the key differs."""


class PreconditionFailed(ArchiveError):
    """A guarded write lost: the object's current generation is not the one the caller expected.

    `expected_generation` 0 means "create only": the object already exists.
    """

    def __init__(self, bucket: str, name: str, expected_generation: int) -> None:
        self.bucket = bucket
        self.name = name
        self.expected_generation = expected_generation
        if expected_generation == 0:
            what = "it already exists (create-only write, if_generation_match=0)"
        else:
            what = f"its live generation is no longer {expected_generation} (someone wrote it meanwhile)"
        super().__init__(f"write to gs://{bucket}/{name} refused: {what}; re-read and decide, nothing was written")


class RetentionLocked(ArchiveError):
    """GCS refused to replace or delete an object that is still inside the bucket's retention period."""


class ObjectNotFound(ArchiveError):
    """No such object (or no such generation of it)."""

    def __init__(self, bucket: str, name: str, generation: int | None) -> None:
        self.bucket = bucket
        self.name = name
        self.generation = generation
        at = f" generation {generation}" if generation is not None else ""
        super().__init__(f"gs://{bucket}/{name}{at} does not exist")


class StorageError(ArchiveError):
    """Any other failure of the storage service (after the client library's own retries)."""
