"""ArchiveSettings: LG_ARCHIVE_* environment, defaults from the spec, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from connectors.archive.settings import ArchiveSettings

KEYS = "k1:" + "A" * 43 + "="


def test_reads_lg_archive_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LG_ARCHIVE_KEYS", KEYS)
    monkeypatch.setenv("LG_ARCHIVE_ENDPOINT", "http://127.0.0.1:4443/")
    monkeypatch.setenv("LG_ARCHIVE_TAX_RETENTION_YEARS", "10")
    settings = ArchiveSettings(_env_file=None)
    assert settings.endpoint == "http://127.0.0.1:4443"
    assert settings.tax_retention_years == 10
    assert settings.keys is not None and settings.keys.get_secret_value() == KEYS
    assert "A" * 43 + "=" not in repr(settings)


def test_spec_defaults() -> None:
    settings = ArchiveSettings(_env_file=None, keys=KEYS)
    assert settings.endpoint is None  # the real GCS
    assert settings.reports_bucket == "luckygas-report-archive"
    assert settings.location == "ASIA-EAST1"
    assert (settings.coldline_after_days, settings.archive_after_days) == (90, 365)
    assert settings.tax_retention_years == 7


def test_location_is_upper_case() -> None:
    assert ArchiveSettings(_env_file=None, keys=KEYS, location="asia-east1").location == "ASIA-EAST1"


def test_exactly_one_key_source(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("LG_ARCHIVE_KEYS", raising=False)
    monkeypatch.delenv("LG_ARCHIVE_KEY_FILE", raising=False)
    with pytest.raises(ValidationError, match="exactly one key source"):
        ArchiveSettings(_env_file=None)
    with pytest.raises(ValidationError, match="exactly one key source"):
        ArchiveSettings(_env_file=None, keys=KEYS, key_file=tmp_path / "keys.json")


@pytest.mark.parametrize("bad", ["ab", "Upper-Case", "-start", "end-", "has space", "a" * 64, "dotted.name"])
def test_bucket_names(bad: str) -> None:
    with pytest.raises(ValidationError, match="bucket name"):
        ArchiveSettings(_env_file=None, keys=KEYS, reports_bucket=bad)


def test_tax_bucket_must_be_separate() -> None:
    with pytest.raises(ValidationError, match="must differ"):
        ArchiveSettings(_env_file=None, keys=KEYS, tax_bucket="luckygas-report-archive")


def test_archive_after_coldline() -> None:
    with pytest.raises(ValidationError, match="greater than coldline"):
        ArchiveSettings(_env_file=None, keys=KEYS, coldline_after_days=365, archive_after_days=90)


@pytest.mark.parametrize("years", [0, 101])
def test_retention_years_bounds(years: int) -> None:
    with pytest.raises(ValidationError):
        ArchiveSettings(_env_file=None, keys=KEYS, tax_retention_years=years)


def test_endpoint_form() -> None:
    assert ArchiveSettings(_env_file=None, keys=KEYS, endpoint="").endpoint is None
    with pytest.raises(ValidationError, match="http"):
        ArchiveSettings(_env_file=None, keys=KEYS, endpoint="127.0.0.1:4443")
