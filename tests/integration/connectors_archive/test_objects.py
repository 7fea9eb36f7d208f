"""put/get/versions/delete on fake-gcs-server: encryption at rest, generations, preconditions, tampering, log."""

from __future__ import annotations

import base64
import gzip
import zlib
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from connectors.archive import crypto
from connectors.archive.archive import META_CONTENT_TYPE, STORED_CONTENT_TYPE, ReportArchive
from connectors.archive.errors import IntegrityError, ObjectNotFound, PreconditionFailed, UnknownKey
from connectors.archive.keys import Keyring, generate_key
from connectors.archive.naming import object_name
from tests.integration.connectors_archive.conftest import ArchiveUnderTest

pytestmark = pytest.mark.integration

AT = datetime(2026, 11, 30, 9, 30, tzinfo=UTC)
REPORT = ("日期,客戶,瓦斯桶,數量\n" + "2026-11-30,C000123,20kg,2\n" * 2000).encode("utf-8")


def stored(under: ArchiveUnderTest, name: str, bucket: str | None = None) -> tuple[bytes, dict[str, str], str]:
    """The raw bytes, metadata and content type GCS holds for the live `name`."""
    blob = under.client.bucket(bucket or under.settings.reports_bucket).get_blob(name)
    assert blob is not None
    return blob.download_as_bytes(), dict(blob.metadata or {}), blob.content_type


def test_roundtrip_and_nothing_readable_at_rest(make_archive: Callable[..., ArchiveUnderTest]) -> None:
    under = make_archive()
    name = object_name("daily-sales", "csv", AT)
    archived = under.archive.put(name, REPORT, "text/csv; charset=utf-8", if_generation_match=0)
    assert archived.generation > 0 and archived.size == len(REPORT) and archived.key_id == "k1"
    assert under.archive.get(name) == REPORT

    raw, metadata, content_type = stored(under, name)
    assert raw != REPORT and len(raw) < len(REPORT) // 4  # compressed before encryption
    assert b"C000123" not in raw and "瓦斯".encode() not in raw
    with pytest.raises((OSError, EOFError, zlib.error)):
        gzip.decompress(raw)
    assert content_type == STORED_CONTENT_TYPE
    assert metadata[crypto.META_KEY_ID] == "k1"
    assert metadata[crypto.META_ALGORITHM] == "AES-256-GCM"
    assert metadata[META_CONTENT_TYPE] == "text/csv; charset=utf-8"
    assert int(metadata[crypto.META_SIZE]) == len(REPORT)
    key = under.keyring.decryption_key("k1")
    for value in metadata.values():  # the key is nowhere beside the data
        assert base64.b64encode(key).decode() not in value and key.hex() not in value
    assert key not in raw


def test_same_name_twice_keeps_two_readable_generations(make_archive: Callable[..., ArchiveUnderTest]) -> None:
    under = make_archive()
    name = object_name("monthly-kpi", "xlsx", AT)
    first = under.archive.put(name, b"first version", "application/vnd.ms-excel")
    second = under.archive.put(name, b"second version", "application/vnd.ms-excel")
    assert second.generation != first.generation

    versions = under.archive.versions(name)
    assert [v.generation for v in versions] == sorted([first.generation, second.generation])
    assert [v.live for v in versions] == [False, True]
    assert all(v.key_id == "k1" and v.size is not None for v in versions)
    assert under.archive.get(name, first.generation) == b"first version"
    assert under.archive.get(name, second.generation) == b"second version"
    assert under.archive.get(name) == b"second version"
    # A name that only shares the prefix is not a version of it.
    under.archive.put(name + ".bak", b"other", "text/plain")
    assert len(under.archive.versions(name)) == 2


def test_preconditions_refuse_create_over_existing_and_stale_generation(
    make_archive: Callable[..., ArchiveUnderTest],
) -> None:
    under = make_archive()
    name = object_name("ar-aging", "csv", AT)
    first = under.archive.put(name, b"v1", "text/csv", if_generation_match=0)

    with pytest.raises(PreconditionFailed, match="already exists") as created:
        under.archive.put(name, b"v2 racing create", "text/csv", if_generation_match=0)
    assert created.value.expected_generation == 0

    second = under.archive.put(name, b"v2", "text/csv", if_generation_match=first.generation)
    with pytest.raises(PreconditionFailed, match=f"no longer {first.generation}"):
        under.archive.put(name, b"v3 from a stale read", "text/csv", if_generation_match=first.generation)

    # The losers wrote nothing.
    assert [v.generation for v in under.archive.versions(name)] == [first.generation, second.generation]
    assert under.archive.get(name) == b"v2"


def test_tax_documents_are_create_only_in_their_own_bucket(make_archive: Callable[..., ArchiveUnderTest]) -> None:
    under = make_archive()
    name = object_name("vat-401-2026-09", "txt", AT, kind="tax")
    assert name.startswith("tax/2026/11/")
    archived = under.archive.put(name, b"401 media file", "text/plain", kind="tax")
    assert archived.bucket == under.settings.tax_bucket
    with pytest.raises(PreconditionFailed):
        under.archive.put(name, b"replacement", "text/plain", kind="tax")
    assert under.archive.get(name, kind="tax") == b"401 media file"
    assert [v.generation for v in under.archive.versions(name, kind="tax")] == [archived.generation]
    with pytest.raises(ObjectNotFound):
        under.archive.get(name)  # not in the reports bucket


def test_altered_or_moved_objects_are_detected(make_archive: Callable[..., ArchiveUnderTest]) -> None:
    under = make_archive()
    name = object_name("driver-routes", "csv", AT)
    under.archive.put(name, REPORT, "text/csv")
    raw, metadata, _ = stored(under, name)
    bucket = under.client.bucket(under.settings.reports_bucket)

    # One flipped byte, metadata kept: written straight to GCS as an attacker with write access would.
    flipped = bytearray(raw)
    flipped[len(flipped) // 2] ^= 0x01
    tampered = bucket.blob(name)
    tampered.metadata = metadata
    tampered.upload_from_string(bytes(flipped))
    with pytest.raises(IntegrityError, match="failed authentication"):
        under.archive.get(name)

    # The intact object copied to another name (e.g. to pass an old report off as a newer one).
    moved_name = object_name("driver-routes", "csv", datetime(2026, 12, 31, tzinfo=UTC))
    moved = bucket.blob(moved_name)
    moved.metadata = metadata
    moved.upload_from_string(raw)
    with pytest.raises(IntegrityError, match="copied from another name"):
        under.archive.get(moved_name)

    # The previous (intact) generation still reads fine.
    assert under.archive.get(name, under.archive.versions(name)[0].generation) == REPORT
    errors = [e for e in under.log.read_entries() if e["outcome"] == "error"]
    assert [e["action"] for e in errors] == ["get", "get"]
    assert all(e["error"].startswith("IntegrityError:") for e in errors)


def test_wrong_or_missing_key(make_archive: Callable[..., ArchiveUnderTest]) -> None:
    under = make_archive()
    name = object_name("cash-flow", "pdf", AT)
    under.archive.put(name, b"%PDF-1.7 cash flow", "application/pdf")
    same_id_other_key = ReportArchive(under.settings, Keyring({"k1": generate_key()}), client=under.client,
                                      access_log=under.log)
    with pytest.raises(IntegrityError):
        same_id_other_key.get(name)
    other_ring = ReportArchive(under.settings, Keyring({"k9": generate_key()}), client=under.client,
                               access_log=under.log)
    with pytest.raises(UnknownKey, match="'k1'"):
        other_ring.get(name)


def test_rotation_old_objects_stay_readable(make_archive: Callable[..., ArchiveUnderTest]) -> None:
    old_key, new_key = generate_key(), generate_key()
    under = make_archive(keyring=Keyring({"2026-05": old_key}))
    name = object_name("yearly-tax-summary", "csv", AT)
    under.archive.put(name, b"sealed with the old key", "text/csv")

    rotated = ReportArchive(under.settings, Keyring({"2026-05": old_key, "2026-11": new_key}),
                            client=under.client, access_log=under.log)
    newer = rotated.put(name, b"sealed with the new key", "text/csv")
    assert newer.key_id == "2026-11"
    old_generation = rotated.versions(name)[0].generation
    assert rotated.get(name, old_generation) == b"sealed with the old key"
    assert rotated.get(name) == b"sealed with the new key"


def test_delete_and_missing_objects(make_archive: Callable[..., ArchiveUnderTest]) -> None:
    under = make_archive()
    name = object_name("scratch", "csv", AT)
    archived = under.archive.put(name, b"x", "text/csv")
    under.archive.delete(name, archived.generation)
    with pytest.raises(ObjectNotFound, match="does not exist"):
        under.archive.get(name)
    with pytest.raises(ObjectNotFound):
        under.archive.delete("reports/never/written.csv.gz.enc")


def test_every_access_is_logged_including_failures(make_archive: Callable[..., ArchiveUnderTest]) -> None:
    under = make_archive()
    before = len(under.log.read_entries())  # the two ensure_bucket lines
    name = object_name("access-log", "csv", AT)
    archived = under.archive.put(name, REPORT, "text/csv", actor="scheduler")
    under.archive.get(name, actor="ops@luckygas.com.tw")
    under.archive.versions(name)
    with pytest.raises(PreconditionFailed):
        under.archive.put(name, b"again", "text/csv", if_generation_match=0)
    with pytest.raises(ObjectNotFound):
        under.archive.get("reports/2026/11/missing.csv.gz.enc")
    under.archive.delete(name, archived.generation)

    entries = under.log.read_entries()[before:]
    assert [(e["action"], e["outcome"]) for e in entries] == [
        ("put", "ok"), ("get", "ok"), ("list", "ok"), ("put", "error"), ("get", "error"), ("delete", "ok"),
    ]
    put, get, listing, refused, missing, deleted = entries
    assert put["actor"] == "scheduler" and get["actor"] == "ops@luckygas.com.tw" and listing["actor"] == "pytest"
    assert put["bucket"] == under.settings.reports_bucket and put["object"] == name
    assert put["generation"] == archived.generation == get["generation"] == deleted["generation"]
    assert put["bytes"] == len(REPORT) == get["bytes"]
    assert refused["error"].startswith("PreconditionFailed:") and refused["generation"] is None
    assert missing["error"].startswith("ObjectNotFound:")
    for entry in entries:
        assert datetime.fromisoformat(entry["ts"]).utcoffset() is not None
    assert all(e["error"] is None for e in (put, get, listing, deleted))
