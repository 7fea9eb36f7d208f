"""Real peer for the archive tests: fake-gcs-server (memory backend, HTTP, ASIA-EAST1) on a free port.

- `fake_gcs` (module scope): the bundled Go binary started as a process, stopped at the end of the module.
- `make_archive(**settings)`: a `ReportArchive` on that server with bucket names of its own (so tests never
  share state), a fresh keyring, an access log under the test's tmp dir, and a storage client whose HTTP
  session records every request (`RecordingSession.calls`), so tests can check what was SENT where the fake
  does not keep it (lifecycle rules, retention policy).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from connectors.archive.access_log import AccessLog
from connectors.archive.archive import ReportArchive
from connectors.archive.keys import Keyring, generate_key
from connectors.archive.local_fake_gcs import LocalFakeGcs
from connectors.archive.settings import ArchiveSettings
from infra.process import free_port


@dataclass(frozen=True)
class Call:
    method: str
    url: str
    body: Any  # parsed JSON of a metadata request (bucket insert/patch), else None


class RecordingSession(requests.Session):
    """A requests session that remembers every request the storage client makes."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[Call] = []

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        body = None
        data = kwargs.get("data")
        if isinstance(data, (str, bytes)) and "/upload/" not in str(url) and data:
            body = json.loads(data)
        self.calls.append(Call(str(method), str(url), body))
        return super().request(method, url, *args, **kwargs)

    def bodies(self, method: str, path_part: str) -> list[Any]:
        return [c.body for c in self.calls if c.method == method and path_part in c.url.split("?")[0]]


@dataclass
class ArchiveUnderTest:
    archive: ReportArchive
    keyring: Keyring
    client: storage.Client
    session: RecordingSession
    log: AccessLog

    @property
    def settings(self) -> ArchiveSettings:
        return self.archive.settings


@pytest.fixture(scope="module")
def fake_gcs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalFakeGcs]:
    server = LocalFakeGcs(tmp_path_factory.mktemp("fake-gcs"), free_port(), location="ASIA-EAST1")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def raw_client(url: str, session: requests.Session | None = None) -> storage.Client:
    """A plain storage client on the fake (for looking at or altering what the archive stored)."""
    return storage.Client(
        project="luckygas-test",
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options={"api_endpoint": url},
        _http=session,
    )


@pytest.fixture
def make_archive(fake_gcs: LocalFakeGcs, tmp_path: Path) -> Callable[..., ArchiveUnderTest]:
    suffix = uuid.uuid4().hex[:10]

    def build(keyring: Keyring | None = None, ensure: bool = True, **overrides: Any) -> ArchiveUnderTest:
        values: dict[str, Any] = {
            "project": "luckygas-test",
            "endpoint": fake_gcs.url,
            "reports_bucket": f"lg-reports-{suffix}",
            "tax_bucket": f"lg-tax-{suffix}",
            "keys": "placeholder:" + "A" * 43 + "=",  # settings need a source; the keyring below is passed directly
            "access_log_path": tmp_path / "archive-access.jsonl",
            "actor": "pytest",
            "request_timeout_seconds": 30.0,
        }
        values.update(overrides)
        settings = ArchiveSettings(_env_file=None, **values)
        ring = keyring if keyring is not None else Keyring({"k1": generate_key()})
        session = RecordingSession()
        client = raw_client(fake_gcs.url, session)
        log = AccessLog(settings.access_log_path)
        archive = ReportArchive(settings, ring, client=client, access_log=log)
        if ensure:
            archive.ensure_buckets()
        return ArchiveUnderTest(archive, ring, client, session, log)

    return build
