"""Settings: built lazily, overridable by LG_* variables, and exportable to a child process."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from infra.clock import FixedClock, business_day
from infra.settings import PostgresSettings, StackSettings, settings_env


def test_child_environment_rebuilds_the_same_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    original = StackSettings(state_dir=tmp_path, postgres=PostgresSettings(port=6543, password="s3cret"))  # type: ignore[arg-type]
    for key, value in settings_env(original).items():
        monkeypatch.setenv(key, value)
    rebuilt = StackSettings()
    assert rebuilt == original
    assert rebuilt.postgres.password.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(rebuilt)


def test_business_day_is_taipei() -> None:
    # 17:30 UTC is already the next day in Taipei (UTC+8).
    assert business_day(datetime(2026, 1, 15, 17, 30, tzinfo=UTC)) == date(2026, 1, 16)
    with pytest.raises(ValueError, match="timezone-aware"):
        business_day(datetime(2026, 1, 15, 17, 30))  # noqa: DTZ001 - the point of the test


def test_fixed_clock_advances_and_refuses_naive_time() -> None:
    clock = FixedClock(datetime(2026, 1, 15, tzinfo=UTC))
    clock.advance(timedelta(minutes=5))
    assert clock.now() == datetime(2026, 1, 15, 0, 5, tzinfo=UTC)
    with pytest.raises(ValueError, match="timezone-aware"):
        FixedClock(datetime(2026, 1, 15))  # noqa: DTZ001
