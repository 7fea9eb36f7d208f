"""Object names: UTC folders and stamps, slug and extension rules, GCS name rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from connectors.archive.naming import object_name, validate_object_name

TAIPEI = timezone(timedelta(hours=8))


def test_report_name() -> None:
    at = datetime(2026, 11, 30, 9, 30, 5, tzinfo=UTC)
    assert object_name("daily-sales", "CSV", at) == "reports/2026/11/daily-sales-20261130T093005Z.csv.gz.enc"


def test_tax_name_and_local_time_converted_to_utc() -> None:
    # 2026-12-01 07:00 in Taipei is still November in UTC.
    at = datetime(2026, 12, 1, 7, 0, tzinfo=TAIPEI)
    assert object_name("vat-401", ".txt", at, kind="tax") == "tax/2026/11/vat-401-20261130T230000Z.txt.gz.enc"


def test_names_sort_by_time() -> None:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    names = [object_name("kpi", "csv", base + timedelta(hours=h * 7)) for h in range(100)]
    assert names == sorted(names)


def test_naive_timestamp_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        object_name("kpi", "csv", datetime(2026, 11, 30))  # noqa: DTZ001 - the point of the test


@pytest.mark.parametrize("slug", ["", "Daily", "a/b", "-x", "有中文", "a" * 101])
def test_bad_slug(slug: str) -> None:
    with pytest.raises(ValueError, match="slug"):
        object_name(slug, "csv", datetime.now(UTC))


@pytest.mark.parametrize("ext", ["", "c-s-v", "toolongextension", "x y"])
def test_bad_extension(ext: str) -> None:
    with pytest.raises(ValueError, match="extension"):
        object_name("kpi", ext, datetime.now(UTC))


@pytest.mark.parametrize("name", ["reports/2026/11/日報.csv.gz.enc", "a", "x" * 1024])
def test_valid_object_names(name: str) -> None:
    assert validate_object_name(name) == name


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("", "empty"),
        ("報" * 342, "1024"),  # 1026 UTF-8 bytes
        ("a\nb", "control"),
        ("a\rb", "control"),
        (".", "'.'"),
        ("..", "'.'"),
        (".well-known/acme-challenge/x", "reserved"),
    ],
)
def test_invalid_object_names(name: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        validate_object_name(name)
