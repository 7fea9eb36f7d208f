"""Bucket configuration the archive needs, as data: storage-class lifecycle, versioning, tax retention.

Contract: `reports_plan(settings)` and `tax_plan(settings)` return the `BucketPlan` of each bucket; they are pure,
so tests compare the exact rule dicts sent to the JSON API. `ensure_bucket(client, plan)` (sync, network)
creates a missing bucket with the plan, or brings an existing one in line, returning what it did:

- reports bucket: versioning on (every overwrite keeps the previous generation), no retention policy;
- tax bucket: retention policy of `tax_retention_years`, versioning OFF. GCS does not allow a retention policy
  on a bucket with Object Versioning, and a retention policy already makes every object undeletable and
  unreplaceable until it is old enough, which is what versioning would protect against;
- both: objects move STANDARD -> COLDLINE at `coldline_after_days` (spec "cool tier", 90) and -> ARCHIVE at
  `archive_after_days` (365). `matchesStorageClass` keeps each rule from firing again on objects already in a
  colder class. Age counts from object creation, so noncurrent versions move the same way. Coldline's
  90-day and Archive's 365-day minimum storage durations are met: nothing is moved or deleted earlier.

An existing bucket is never weakened: a longer retention period is kept, and a bucket in another location or
a tax bucket with versioning on is reported as `ArchiveConfigError` (these need a person: a location cannot
be changed, and turning versioning off is a decision about existing versions).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import storage

from connectors.archive.errors import ArchiveConfigError
from connectors.archive.settings import ArchiveSettings

DAY_SECONDS = 86_400
Rule = dict[str, Any]


def retention_seconds(years: int) -> int:
    """`years` calendar years in seconds, never shorter than any real span of that many years.

    GCS takes the period in seconds. The console's "year" is 365.25 days, which for 7 years is 6 hours short of
    a span holding two leap days (e.g. 2024-01-01 .. 2031-01-01 = 2557 days); so count 365 days a year plus
    one day per started 4 years.
    """
    if years < 1:
        raise ValueError("retention must be at least one year")
    return (365 * years + math.ceil(years / 4)) * DAY_SECONDS


def storage_class_rules(coldline_after_days: int, archive_after_days: int) -> list[Rule]:
    """The lifecycle rules, in the JSON API's form (`lifecycle.rule[]`)."""
    if not 0 < coldline_after_days < archive_after_days:
        raise ValueError("need 0 < coldline_after_days < archive_after_days")
    return [
        {
            "action": {"type": "SetStorageClass", "storageClass": "COLDLINE"},
            "condition": {"age": coldline_after_days, "matchesStorageClass": ["STANDARD", "NEARLINE"]},
        },
        {
            "action": {"type": "SetStorageClass", "storageClass": "ARCHIVE"},
            "condition": {"age": archive_after_days, "matchesStorageClass": ["STANDARD", "NEARLINE", "COLDLINE"]},
        },
    ]


@dataclass(frozen=True, slots=True)
class BucketPlan:
    """What one bucket must look like."""

    name: str
    location: str
    versioning: bool
    lifecycle_rules: tuple[Rule, ...]
    retention_period_seconds: int | None
    kms_key_name: str | None = None
    storage_class: str = "STANDARD"


def reports_plan(settings: ArchiveSettings) -> BucketPlan:
    rules = storage_class_rules(settings.coldline_after_days, settings.archive_after_days)
    return BucketPlan(settings.reports_bucket, settings.location, True, tuple(rules), None, settings.kms_key_name)


def tax_plan(settings: ArchiveSettings) -> BucketPlan:
    rules = storage_class_rules(settings.coldline_after_days, settings.archive_after_days)
    seconds = retention_seconds(settings.tax_retention_years)
    return BucketPlan(settings.tax_bucket, settings.location, False, tuple(rules), seconds, settings.kms_key_name)


@dataclass(frozen=True, slots=True)
class BucketOutcome:
    """What `ensure_bucket` did: created the bucket, or patched the listed fields (empty: nothing to do)."""

    name: str
    created: bool
    changed: tuple[str, ...]


def _plain_rules(bucket: storage.Bucket) -> list[Rule]:
    # The client wraps rules in dict subclasses; compare plain JSON values.
    return [{"action": dict(rule["action"]), "condition": dict(rule["condition"])} for rule in bucket.lifecycle_rules]


def apply_plan(bucket: storage.Bucket, plan: BucketPlan, fields: set[str]) -> None:
    """Set the planned values of `fields` (versioning, lifecycle, retentionPolicy, encryption) on `bucket` locally."""
    if "versioning" in fields:
        bucket.versioning_enabled = plan.versioning
    if "lifecycle" in fields:
        bucket.lifecycle_rules = [dict(rule) for rule in plan.lifecycle_rules]
    if "retentionPolicy" in fields and plan.retention_period_seconds is not None:
        bucket.retention_period = plan.retention_period_seconds
    if "encryption" in fields and plan.kms_key_name is not None:
        bucket.default_kms_key_name = plan.kms_key_name


def ensure_bucket(client: storage.Client, plan: BucketPlan, timeout: float = 60.0) -> BucketOutcome:
    """Create `plan.name` as planned, or patch an existing bucket up to the plan (see the module docstring)."""
    bucket = client.lookup_bucket(plan.name, timeout=timeout)
    if bucket is None:
        new = client.bucket(plan.name)
        new.storage_class = plan.storage_class
        apply_plan(new, plan, {"versioning", "lifecycle", "retentionPolicy", "encryption"})
        try:
            client.create_bucket(new, project=client.project, location=plan.location, timeout=timeout)
            return BucketOutcome(plan.name, True, ())
        except gexc.Conflict:
            # Created by someone else meanwhile (another worker): check it like any existing bucket.
            bucket = client.get_bucket(plan.name, timeout=timeout)

    location = (bucket.location or "").upper()
    if location != plan.location:
        raise ArchiveConfigError(f"bucket {plan.name} is in {location or 'an unknown location'}, not {plan.location}")
    current_retention = bucket.retention_period
    if plan.retention_period_seconds is not None and bucket.versioning_enabled:
        raise ArchiveConfigError(
            f"bucket {plan.name} has versioning on but needs a retention policy; GCS does not allow both: "
            "disable versioning (decide about its noncurrent versions) and run ensure_buckets again"
        )
    changed: set[str] = set()
    if bool(bucket.versioning_enabled) != plan.versioning:
        changed.add("versioning")
    if _plain_rules(bucket) != list(plan.lifecycle_rules):
        changed.add("lifecycle")
    if plan.retention_period_seconds is not None and (current_retention or 0) < plan.retention_period_seconds:
        changed.add("retentionPolicy")
    if plan.kms_key_name is not None and bucket.default_kms_key_name != plan.kms_key_name:
        changed.add("encryption")
    if changed:
        # The versioning flag is always re-sent: fake-gcs-server (our test peer) resets versioning when a patch
        # omits it; on GCS re-sending the same value changes nothing.
        apply_plan(bucket, plan, changed | {"versioning"})
        bucket.patch(timeout=timeout)
    return BucketOutcome(plan.name, False, tuple(sorted(changed)))
