"""`ReportArchive`: generated reports and extracts, compressed and client-side encrypted, in Google Cloud Storage.

Contract (all methods are synchronous and block on the network; from async code call them through
`asyncio.to_thread(archive.put, ...)`. Give each thread its own instance: the google client's HTTP session is
not documented as thread-safe; the access log is, and several instances may share one file):
- `ensure_buckets()` creates or aligns the reports bucket (versioned) and the tax bucket (retention policy,
  no versioning), both with the Standard -> Coldline -> Archive lifecycle (see `policy.py`).
- `put(name, data, content_type, kind=, if_generation_match=)` seals `data` (gzip + AES-256-GCM, `crypto.py`)
  and uploads it to the bucket of `kind`; returns the new `ArchivedObject` with its generation.
  `if_generation_match=0` writes only if the name is free, `=g` only if generation g is still the live one;
  a lost race raises `PreconditionFailed` and writes nothing. Tax documents are create-only unless the caller
  passes a generation: they are records, and the retention policy refuses replacements anyway.
- `get(name, generation=None, kind=)` downloads one generation (default: the live one) and returns the verified
  original bytes (`IntegrityError` if anything was altered, `ObjectNotFound` if absent).
- `versions(name, kind=)` lists every stored generation of a name, oldest first.
- `delete(name, generation=None, kind=)` deletes one generation (or the live object; on the versioned bucket
  that makes it noncurrent). Retention refusals raise `RetentionLocked`.
- `link_for(name, kind=)` is a link for people, see its docstring.
Every put/get/list/delete/ensure_bucket appends one line to the access log, including failures.

The stored object is `application/octet-stream` without Content-Encoding: the gzip layer is inside the
ciphertext, so GCS must not try decompressive transcoding on it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, TypeVar
from urllib.parse import quote

from google.api_core import exceptions as gexc
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage
from google.cloud.storage.exceptions import InvalidResponse

from connectors.archive import crypto
from connectors.archive.access_log import AccessLog, Action
from connectors.archive.errors import (
    ArchiveError,
    ObjectNotFound,
    PreconditionFailed,
    RetentionLocked,
    StorageError,
)
from connectors.archive.keys import KeyProvider, keyring_from_settings
from connectors.archive.naming import Kind, validate_object_name
from connectors.archive.policy import BucketOutcome, ensure_bucket, reports_plan, tax_plan
from connectors.archive.settings import ArchiveSettings

META_CONTENT_TYPE = "lg-content-type"
STORED_CONTENT_TYPE = "application/octet-stream"
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ArchivedObject:
    """One stored generation of an archived object, described from its GCS metadata (no content)."""

    bucket: str
    name: str
    generation: int
    kind: Kind
    size: int | None  # original (plaintext) bytes, from the archive metadata
    stored_size: int | None  # bytes in the bucket (compressed + encrypted)
    content_type: str | None  # the original's content type
    key_id: str | None
    sha256: str | None
    storage_class: str | None
    created: datetime | None
    live: bool  # False for a noncurrent (overwritten or deleted) generation


def make_client(settings: ArchiveSettings) -> storage.Client:
    """A storage client: Application Default Credentials on GCS, or anonymous on an emulator endpoint."""
    if settings.endpoint is None:
        return storage.Client(project=settings.project)
    return storage.Client(
        project=settings.project,
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]  # google-auth leaves it unannotated
        client_options={"api_endpoint": settings.endpoint},
    )


def _describe(blob: storage.Blob, kind: Kind) -> ArchivedObject:
    meta: dict[str, str] = blob.metadata or {}
    size = meta.get(crypto.META_SIZE)
    return ArchivedObject(
        bucket=blob.bucket.name,
        name=blob.name,
        generation=int(blob.generation),
        kind=kind,
        size=int(size) if size is not None and size.isdigit() else None,
        stored_size=blob.size,
        content_type=meta.get(META_CONTENT_TYPE),
        key_id=meta.get(crypto.META_KEY_ID),
        sha256=meta.get(crypto.META_SHA256),
        storage_class=blob.storage_class,
        created=blob.time_created,
        live=blob.time_deleted is None,
    )


class ReportArchive:
    """The archive of reports (versioned bucket) and tax documents (retention bucket). See the module docstring."""

    def __init__(
        self,
        settings: ArchiveSettings,
        keys: KeyProvider,
        *,
        client: storage.Client | None = None,
        access_log: AccessLog | None = None,
    ) -> None:
        self.settings = settings
        self.keys = keys
        self.client = client if client is not None else make_client(settings)
        self.access_log = access_log if access_log is not None else AccessLog(settings.access_log_path)

    @classmethod
    def from_settings(cls, settings: ArchiveSettings) -> ReportArchive:
        """An archive with the settings' keyring, storage client and access log."""
        return cls(settings, keyring_from_settings(settings))

    def bucket_name(self, kind: Kind) -> str:
        if kind == "report":
            return self.settings.reports_bucket
        if kind == "tax":
            return self.settings.tax_bucket
        raise ValueError(f"unknown kind {kind!r}: 'report' or 'tax'")

    # --- logging and error translation ------------------------------------------------------------------

    @contextmanager
    def _logged(
        self, action: Action, bucket: str, name: str | None, actor: str | None, generation: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Log the action once it ends; the body fills `result` with generation/bytes, errors are logged too."""
        result: dict[str, Any] = {"generation": generation, "size": None}
        who = actor or self.settings.actor
        try:
            yield result
        except BaseException as exc:
            self.access_log.record(
                actor=who, action=action, bucket=bucket, obj=name, generation=result["generation"],
                size=result["size"], error=exc,
            )
            raise
        self.access_log.record(
            actor=who, action=action, bucket=bucket, obj=name, generation=result["generation"], size=result["size"]
        )

    def _call(
        self, fn: Callable[[], T], bucket: str, name: str, generation: int | None = None, expected: int | None = None
    ) -> T:
        """Run one client call, turning library errors into `ArchiveError`s that say what failed."""
        try:
            return fn()
        except ArchiveError:
            raise
        except gexc.PreconditionFailed as exc:
            if expected is None:
                raise StorageError(f"gs://{bucket}/{name}: unexpected precondition failure: {exc}") from exc
            raise PreconditionFailed(bucket, name, expected) from exc
        except gexc.NotFound as exc:
            raise ObjectNotFound(bucket, name, generation) from exc
        except gexc.Forbidden as exc:
            if "retention" in str(exc).lower():
                raise RetentionLocked(f"gs://{bucket}/{name} is under the bucket's retention policy: {exc}") from exc
            raise StorageError(f"gs://{bucket}/{name}: access refused: {exc}") from exc
        except (gexc.GoogleAPIError, InvalidResponse, OSError) as exc:
            # OSError covers requests' connection errors and timeouts.
            raise StorageError(f"gs://{bucket}/{name}: {type(exc).__name__}: {exc}") from exc

    # --- buckets ------------------------------------------------------------------------------------------

    def ensure_buckets(self, actor: str | None = None) -> list[BucketOutcome]:
        """Create or align both buckets (idempotent); returns what was done to each."""
        outcomes = []
        timeout = self.settings.request_timeout_seconds
        for plan in (reports_plan(self.settings), tax_plan(self.settings)):
            with self._logged("ensure_bucket", plan.name, None, actor):
                outcomes.append(self._call(partial(ensure_bucket, self.client, plan, timeout), plan.name, ""))
        return outcomes

    # --- objects ------------------------------------------------------------------------------------------

    def put(
        self,
        name: str,
        data: bytes,
        content_type: str,
        kind: Kind = "report",
        if_generation_match: int | None = None,
        actor: str | None = None,
    ) -> ArchivedObject:
        """Seal and upload `data` as `name` (see the module docstring for the precondition rules).

        google-cloud-storage 3.x retries uploads on transient errors. With a generation precondition a retry can
        never write twice; without one, a retry after a lost response can leave an extra, identical version on
        the versioned bucket (harmless; visible in `versions`). With a precondition, the rare retry whose first
        attempt did land reports `PreconditionFailed`; `versions` then shows whether the write is ours (sha256).
        """
        bucket_name = self.bucket_name(kind)
        expected = 0 if (kind == "tax" and if_generation_match is None) else if_generation_match
        with self._logged("put", bucket_name, name, actor) as result:
            validate_object_name(name)
            if len(data) > self.settings.max_object_bytes:
                raise ValueError(f"{len(data)} bytes exceed max_object_bytes={self.settings.max_object_bytes}")
            result["size"] = len(data)
            sealed = crypto.seal(
                data, bucket=bucket_name, name=name, keys=self.keys, compress_level=self.settings.compress_level
            )
            blob = self.client.bucket(bucket_name).blob(name)
            blob.metadata = {**sealed.metadata, META_CONTENT_TYPE: content_type}

            def upload() -> None:
                blob.upload_from_string(
                    sealed.blob,
                    content_type=STORED_CONTENT_TYPE,
                    if_generation_match=expected,
                    timeout=self.settings.request_timeout_seconds,
                    checksum="crc32c",
                )

            self._call(upload, bucket_name, name, expected=expected)
            result["generation"] = int(blob.generation)
            return _describe(blob, kind)

    def get(self, name: str, generation: int | None = None, kind: Kind = "report", actor: str | None = None) -> bytes:
        """The verified original bytes of `name` (the live generation, or the one given)."""
        bucket_name = self.bucket_name(kind)
        timeout = self.settings.request_timeout_seconds
        with self._logged("get", bucket_name, name, actor, generation) as result:
            bucket = self.client.bucket(bucket_name)
            blob = self._call(lambda: bucket.get_blob(name, generation=generation, timeout=timeout), bucket_name, name)
            if blob is None:
                raise ObjectNotFound(bucket_name, name, generation)
            result["generation"] = generation_read = int(blob.generation)
            # Download exactly the generation whose metadata we hold, even if the name is overwritten meanwhile.
            # A fresh blob, not `blob`: a loaded blob downloads from its mediaLink, and fake-gcs-server's
            # mediaLink lacks the generation (GCS's has it), which would read the live object instead.
            pinned = bucket.blob(name, generation=generation_read)
            stored = self._call(lambda: pinned.download_as_bytes(timeout=timeout), bucket_name, name, generation_read)
            data = crypto.open_sealed(stored, blob.metadata, bucket=bucket_name, name=name, keys=self.keys)
            result["size"] = len(data)
            return data

    def versions(self, name: str, kind: Kind = "report", actor: str | None = None) -> list[ArchivedObject]:
        """Every stored generation of exactly `name`, oldest first (live one last, if the name is live)."""
        bucket_name = self.bucket_name(kind)
        with self._logged("list", bucket_name, name, actor):
            # versions="true", not True: the client sends a bool as "True", which GCS accepts but
            # fake-gcs-server (the test peer) ignores; "true" is the JSON API's documented spelling.
            listing = self._call(
                lambda: list(
                    self.client.list_blobs(
                        bucket_name, prefix=name, versions="true", timeout=self.settings.request_timeout_seconds
                    )
                ),
                bucket_name,
                name,
            )
            found = [_describe(blob, kind) for blob in listing if blob.name == name]
            return sorted(found, key=lambda item: item.generation)

    def delete(self, name: str, generation: int | None = None, kind: Kind = "report", actor: str | None = None) -> None:
        """Delete one generation, or the live object (on the versioned bucket it becomes noncurrent)."""
        bucket_name = self.bucket_name(kind)
        with self._logged("delete", bucket_name, name, actor, generation):
            bucket = self.client.bucket(bucket_name)
            self._call(
                lambda: bucket.delete_blob(name, generation=generation, timeout=self.settings.request_timeout_seconds),
                bucket_name,
                name,
                generation,
            )

    def link_for(self, name: str, kind: Kind = "report") -> str:
        """An https link to the stored object for a signed-in person with read access (no signing key needed).

        On GCS this is the authenticated-browser form `https://storage.cloud.google.com/<bucket>/<name>`; on an
        emulator endpoint it is the emulator's media URL. NOTE: the object is client-side encrypted, so the link
        yields ciphertext; a mail for people should link to a service route that calls `get` (which checks access
        and writes the access log). Signed URLs would not change that and need a service-account key.
        """
        bucket_name = self.bucket_name(kind)
        validate_object_name(name)
        if self.settings.endpoint is None:
            return f"https://storage.cloud.google.com/{bucket_name}/{quote(name, safe='/')}"
        return f"{self.settings.endpoint}/download/storage/v1/b/{bucket_name}/o/{quote(name, safe='')}?alt=media"
