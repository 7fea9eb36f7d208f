"""Bucket plans: the exact lifecycle rules, the tax retention period in seconds, versioning per bucket."""

from __future__ import annotations

from datetime import date

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from connectors.archive.policy import apply_plan, reports_plan, retention_seconds, storage_class_rules, tax_plan
from connectors.archive.settings import ArchiveSettings

SETTINGS = ArchiveSettings(_env_file=None, keys="k1:" + "A" * 43 + "=")


def test_storage_class_rules_exactly() -> None:
    assert storage_class_rules(90, 365) == [
        {
            "action": {"type": "SetStorageClass", "storageClass": "COLDLINE"},
            "condition": {"age": 90, "matchesStorageClass": ["STANDARD", "NEARLINE"]},
        },
        {
            "action": {"type": "SetStorageClass", "storageClass": "ARCHIVE"},
            "condition": {"age": 365, "matchesStorageClass": ["STANDARD", "NEARLINE", "COLDLINE"]},
        },
    ]


@pytest.mark.parametrize(("cold", "archive"), [(0, 365), (365, 365), (400, 365)])
def test_rules_need_increasing_ages(cold: int, archive: int) -> None:
    with pytest.raises(ValueError):
        storage_class_rules(cold, archive)


def test_seven_years_in_seconds() -> None:
    assert retention_seconds(7) == 2557 * 86_400 == 220_924_800
    assert retention_seconds(1) == 366 * 86_400


@pytest.mark.parametrize("years", [1, 4, 7, 10])
def test_retention_covers_every_calendar_span(years: int) -> None:
    longest = max(
        (date(y + years, m, 1) - date(y, m, 1)).days for y in range(1996, 2101) for m in (1, 3)
    )
    assert retention_seconds(years) >= longest * 86_400
    assert retention_seconds(years) - longest * 86_400 < 86_400 * 2  # and not much more


def test_reports_plan_versioned_no_retention() -> None:
    plan = reports_plan(SETTINGS)
    assert (plan.name, plan.location, plan.storage_class) == ("luckygas-report-archive", "ASIA-EAST1", "STANDARD")
    assert plan.versioning is True and plan.retention_period_seconds is None
    assert list(plan.lifecycle_rules) == storage_class_rules(90, 365)


def test_tax_plan_retention_without_versioning() -> None:
    plan = tax_plan(SETTINGS)
    assert plan.name == "luckygas-tax-archive"
    assert plan.versioning is False and plan.retention_period_seconds == 220_924_800
    assert list(plan.lifecycle_rules) == storage_class_rules(90, 365)


def test_apply_plan_sets_the_json_api_fields() -> None:
    client = storage.Client(project="p", credentials=AnonymousCredentials())  # type: ignore[no-untyped-call]  # no request made
    settings = SETTINGS.model_copy(update={"kms_key_name": "projects/p/locations/asia-east1/keyRings/r/cryptoKeys/k"})
    bucket = client.bucket("luckygas-tax-archive")
    apply_plan(bucket, tax_plan(settings), {"versioning", "lifecycle", "retentionPolicy", "encryption"})
    assert bucket._properties["versioning"] == {"enabled": False}
    assert bucket._properties["lifecycle"] == {"rule": storage_class_rules(90, 365)}
    assert bucket._properties["retentionPolicy"] == {"retentionPeriod": "220924800"}
    assert bucket._properties["encryption"] == {"defaultKmsKeyName": settings.kms_key_name}
    assert bucket._changes >= {"versioning", "lifecycle", "retentionPolicy", "encryption"}
