"""ReportArchive without a server: links, bucket choice, refusals that happen before any request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from connectors.archive.access_log import AccessLog
from connectors.archive.archive import ReportArchive, make_client
from connectors.archive.keys import Keyring, generate_key
from connectors.archive.settings import ArchiveSettings

NAME = "reports/2026/11/日報 #1-20261130T093000Z.csv.gz.enc"


def archive(tmp_path: Path, **overrides: Any) -> ReportArchive:
    settings = ArchiveSettings(
        _env_file=None, keys="k1:" + "A" * 43 + "=", access_log_path=tmp_path / "access.jsonl", **overrides
    )
    # An unreachable endpoint: any request would fail, so passing tests prove none was made.
    client = storage.Client(
        project="p",
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options={"api_endpoint": "http://127.0.0.1:9"},
    )
    return ReportArchive(settings, Keyring({"k1": generate_key()}), client=client)


def test_link_for_real_gcs(tmp_path: Path) -> None:
    link = archive(tmp_path).link_for(NAME)
    assert link == (
        "https://storage.cloud.google.com/luckygas-report-archive/reports/2026/11/"
        "%E6%97%A5%E5%A0%B1%20%231-20261130T093000Z.csv.gz.enc"
    )
    assert archive(tmp_path).link_for("tax/x", kind="tax").startswith("https://storage.cloud.google.com/luckygas-tax")


def test_link_for_emulator(tmp_path: Path) -> None:
    link = archive(tmp_path, endpoint="http://127.0.0.1:4443").link_for("reports/a b.csv")
    assert link == "http://127.0.0.1:4443/download/storage/v1/b/luckygas-report-archive/o/reports%2Fa%20b.csv?alt=media"


def test_unknown_kind(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown kind"):
        archive(tmp_path).bucket_name("invoice")  # type: ignore[arg-type]


def test_refused_before_upload_and_logged(tmp_path: Path) -> None:
    under = archive(tmp_path, max_object_bytes=10)
    with pytest.raises(ValueError, match="exceed max_object_bytes"):
        under.put("reports/big.csv.gz.enc", b"x" * 11, "text/csv")
    with pytest.raises(ValueError, match="control"):
        under.put("reports/bad\nname", b"x", "text/csv")
    entries = AccessLog(tmp_path / "access.jsonl").read_entries()
    assert [(e["action"], e["outcome"]) for e in entries] == [("put", "error"), ("put", "error")]
    assert entries[0]["error"].startswith("ValueError:")


def test_make_client_uses_the_endpoint_anonymously() -> None:
    settings = ArchiveSettings(_env_file=None, keys="k1:" + "A" * 43 + "=", endpoint="http://127.0.0.1:4443")
    client = make_client(settings)
    assert client.api_endpoint == "http://127.0.0.1:4443"
    assert isinstance(client._credentials, AnonymousCredentials)


def test_from_settings_builds_keyring_client_and_log(tmp_path: Path) -> None:
    settings = ArchiveSettings(
        _env_file=None,
        keys="old:" + "A" * 43 + "=" + ",new:" + "B" * 43 + "=",
        endpoint="http://127.0.0.1:4443",
        access_log_path=tmp_path / "a.jsonl",
    )
    built = ReportArchive.from_settings(settings)
    assert built.keys.encryption_key()[0] == "new"
    assert built.client.api_endpoint == "http://127.0.0.1:4443"
    assert built.access_log.path == tmp_path / "a.jsonl"
