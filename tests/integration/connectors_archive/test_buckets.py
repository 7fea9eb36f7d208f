"""ensure_buckets on fake-gcs-server: what is created, what is sent, and what the fake does not keep."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from connectors.archive.errors import ArchiveConfigError
from connectors.archive.local_fake_gcs import LocalFakeGcs
from connectors.archive.policy import retention_seconds, storage_class_rules
from tests.integration.connectors_archive.conftest import ArchiveUnderTest, raw_client

pytestmark = pytest.mark.integration

RULES = storage_class_rules(90, 365)
SEVEN_YEARS = 220_924_800  # (7 * 365 + 2) days


def test_creates_both_buckets_in_asia_east1(make_archive: Callable[..., ArchiveUnderTest]) -> None:
    under = make_archive(ensure=False)
    outcomes = under.archive.ensure_buckets()
    assert [(o.name, o.created) for o in outcomes] == [
        (under.settings.reports_bucket, True),
        (under.settings.tax_bucket, True),
    ]
    reports = under.client.get_bucket(under.settings.reports_bucket)
    tax = under.client.get_bucket(under.settings.tax_bucket)
    assert reports.location == "ASIA-EAST1" and tax.location == "ASIA-EAST1"
    assert reports.storage_class == "STANDARD"
    assert reports.versioning_enabled is True
    assert tax.versioning_enabled is False  # a retention policy and versioning exclude each other


def test_create_requests_carry_lifecycle_versioning_and_retention(make_archive: Callable[..., ArchiveUnderTest]) -> None:
    under = make_archive(ensure=False)
    under.archive.ensure_buckets()
    inserted = {body["name"]: body for body in under.session.bodies("POST", "/storage/v1/b")}
    reports = inserted[under.settings.reports_bucket]
    tax = inserted[under.settings.tax_bucket]
    assert reports["location"] == "ASIA-EAST1"
    assert reports["storageClass"] == "STANDARD"
    assert reports["versioning"] == {"enabled": True}
    assert reports["lifecycle"] == {"rule": RULES}
    assert "retentionPolicy" not in reports
    assert tax["versioning"] == {"enabled": False}
    assert tax["lifecycle"] == {"rule": RULES}
    assert tax["retentionPolicy"] == {"retentionPeriod": str(SEVEN_YEARS)}
    assert retention_seconds(7) == SEVEN_YEARS


def test_fake_does_not_keep_lifecycle_or_retention(make_archive: Callable[..., ArchiveUnderTest]) -> None:
    """Canary on the peer: if a future fake-gcs-server stores these, read them back instead of checking requests."""
    under = make_archive()
    assert under.client.get_bucket(under.settings.reports_bucket).lifecycle_rules is not None
    assert list(under.client.get_bucket(under.settings.reports_bucket).lifecycle_rules) == []
    assert under.client.get_bucket(under.settings.tax_bucket).retention_period is None


def test_second_run_patches_what_differs_and_keeps_versioning(make_archive: Callable[..., ArchiveUnderTest]) -> None:
    under = make_archive()
    under.session.calls.clear()
    outcomes = {o.name: o for o in under.archive.ensure_buckets()}
    # The fake dropped lifecycle and retention, so from our side they differ and are sent again.
    assert outcomes[under.settings.reports_bucket].created is False
    assert outcomes[under.settings.reports_bucket].changed == ("lifecycle",)
    assert outcomes[under.settings.tax_bucket].changed == ("lifecycle", "retentionPolicy")
    patches = under.session.bodies("PATCH", f"/storage/v1/b/{under.settings.reports_bucket}")
    assert patches == [{"versioning": {"enabled": True}, "lifecycle": {"rule": RULES}}]
    tax_patch = under.session.bodies("PATCH", f"/storage/v1/b/{under.settings.tax_bucket}")[0]
    assert tax_patch["retentionPolicy"] == {"retentionPeriod": str(SEVEN_YEARS)}
    assert tax_patch["versioning"] == {"enabled": False}
    # The fake turns versioning off on a patch that omits it; ours re-sends it, so it stays on.
    assert under.client.get_bucket(under.settings.reports_bucket).versioning_enabled is True


def test_existing_bucket_in_another_location_is_refused(
    make_archive: Callable[..., ArchiveUnderTest], fake_gcs: LocalFakeGcs
) -> None:
    # The fake puts every bucket in its -location (ASIA-EAST1) whatever the request says, so the mismatch is
    # made from the other side: an archive configured for US-CENTRAL1 meets the existing ASIA-EAST1 bucket.
    under = make_archive(ensure=False, location="us-central1")
    raw_client(fake_gcs.url).create_bucket(under.settings.reports_bucket, location="US-CENTRAL1")
    assert raw_client(fake_gcs.url).get_bucket(under.settings.reports_bucket).location == "ASIA-EAST1"
    with pytest.raises(ArchiveConfigError, match="ASIA-EAST1, not US-CENTRAL1"):
        under.archive.ensure_buckets()
    entries = under.log.read_entries()
    assert entries[-1]["action"] == "ensure_bucket" and entries[-1]["outcome"] == "error"


def test_versioned_tax_bucket_is_refused(make_archive: Callable[..., ArchiveUnderTest], fake_gcs: LocalFakeGcs) -> None:
    under = make_archive(ensure=False)
    client = raw_client(fake_gcs.url)
    bucket = client.bucket(under.settings.tax_bucket)
    bucket.versioning_enabled = True
    client.create_bucket(bucket, location="ASIA-EAST1")
    with pytest.raises(ArchiveConfigError, match="does not allow both"):
        under.archive.ensure_buckets()
