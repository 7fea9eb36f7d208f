"""Session fixtures for the integration tests: real services, started once per session."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from infra.settings import StackSettings
from tests.integration.stack import TEST_BACKFILL_ARGS, TEST_BACKFILL_DAYS, test_stack_settings


@pytest.fixture(scope="session")
def stack() -> Iterator[StackSettings]:
    """The whole local stack (PostgreSQL with a small history, ClickHouse, Kafka, Connect + Debezium),
    from a clean state directory, stopped and removed at the end of the session."""
    from infra import stack as stack_cli

    settings = test_stack_settings()
    stack_cli.clean(settings)
    stack_cli.up(settings, TEST_BACKFILL_DAYS, TEST_BACKFILL_ARGS)
    try:
        yield settings
    finally:
        stack_cli.down(settings)
        shutil.rmtree(settings.state_dir, ignore_errors=True)
