"""The stack the integration tests run against: the same `infra.stack.up` as `make up`, on its own
ports and state directory (so a developer's running `make run` is not disturbed)."""

from __future__ import annotations

from pathlib import Path

from connectors.bank.settings import BankSettings, with_local_defaults
from infra.access_settings import IdentitySettings
from infra.settings import (
    PROJECT_ROOT,
    ApiSettings,
    ClickHouseSettings,
    ConnectSettings,
    KafkaSettings,
    PostgresSettings,
    StackSettings,
)

# A small but complete history: long enough for credit-term payments to fall due (30 days), thin enough
# (80 orders a day) to load and snapshot in seconds.
TEST_BACKFILL_DAYS = 40
TEST_BACKFILL_ARGS = ("--customers", "800", "--orders-per-day", "80")


def test_stack_settings(state_dir: Path | None = None) -> StackSettings:
    """Settings for the integration-test stack (ports shifted by +100 from the defaults)."""
    state_dir = state_dir or PROJECT_ROOT / ".state" / "test"
    # Reconciliation re-run every few seconds, so a test need not wait five minutes for a fresh run; ten days
    # of statements, so the thin test history still gives every reconciliation outcome.
    bank = {"sftp_port": 18122, "stable_check_delay_s": 1.0, "reconcile_every_s": 5.0, "local_statement_days": 10}
    return StackSettings(
        state_dir=state_dir,
        postgres=PostgresSettings(port=55532, slot_name="luckygas_test", publication_name="luckygas_test"),
        kafka=KafkaSettings(bootstrap_servers="127.0.0.1:19192", controller_port=19193),
        connect=ConnectSettings(rest_url="http://127.0.0.1:18183", heartbeat_interval_ms=1_000),
        clickhouse=ClickHouseSettings(http_port=18223, tcp_port=19100),
        api=ApiSettings(port=18100),
        bank=BankSettings.model_validate(with_local_defaults(bank, state_dir)),
        identity=IdentitySettings(redis_url="redis://127.0.0.1:16479/0", public_url="https://127.0.0.1:18100"),
    )
