"""The auditor's view of direct ClickHouse access: `system.query_log` read as audit events.

Runs against the `stack` fixture's ClickHouse (its config keeps a query log), or, with
LG_AUDIT_TEST_CH_HTTP_PORT=<port>, against a server already running there with a `<query_log>` section.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from api.access.audit_chain import AuditQuery
from api.access.audit_querylog import ClickHouseQueryLog, QueryLogUnavailable
from infra.clickhouse.runner import get_client
from infra.settings import ClickHouseSettings, StackSettings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def clickhouse(request: pytest.FixtureRequest) -> StackSettings:
    port = os.environ.get("LG_AUDIT_TEST_CH_HTTP_PORT")
    if port:
        return StackSettings(state_dir=Path("/nonexistent"), clickhouse=ClickHouseSettings(http_port=int(port)))
    settings: StackSettings = request.getfixturevalue("stack")
    return settings


async def test_queries_and_refusals_appear_as_events(clickhouse: StackSettings) -> None:
    marker = f"audit_probe_{uuid.uuid4().hex[:8]}"
    start = datetime.now(UTC) - timedelta(seconds=1)
    client = get_client(clickhouse, database="default")
    try:
        client.query(f"SELECT '{marker}' AS probe, number FROM system.numbers LIMIT 3")
        with pytest.raises(Exception):  # noqa: B017 - any server error will do
            client.query(f"SELECT '{marker}', no_such_column FROM system.one")
        client.command("SYSTEM FLUSH LOGS")
    finally:
        client.close()
    reader = ClickHouseQueryLog(clickhouse, excluded_users=[])
    entries = [e for e in await reader.entries(AuditQuery(since=start, limit=500))
               if marker in e.event.parameters["query"]]
    kinds = sorted((e.event.kind, e.event.rows) for e in entries)
    assert kinds == [("data_access", 3), ("query_failed", 0)]
    for entry in entries:
        assert entry.event.principal == f"clickhouse:{clickhouse.clickhouse.user}"
        assert entry.event.at >= start and entry.key
    failed = next(e for e in entries if e.event.kind == "query_failed")
    assert (failed.event.detail or "").startswith("error 47:")
    only_failed = await reader.entries(AuditQuery(since=start, kinds=frozenset({"query_failed"}), limit=500))
    assert failed.key in {e.key for e in only_failed}
    assert await reader.entries(AuditQuery(principal="emp:1")) == []
    excluded = ClickHouseQueryLog(clickhouse)  # the API's own user is left out by default
    assert not [e for e in await excluded.entries(AuditQuery(since=start, limit=500))
                if marker in e.event.parameters["query"]]


async def test_an_unreachable_server_is_a_clear_refusal() -> None:
    settings = StackSettings(state_dir=Path("/nonexistent"), clickhouse=ClickHouseSettings(http_port=1))
    with pytest.raises(QueryLogUnavailable, match="unreachable"):
        await ClickHouseQueryLog(settings).entries(AuditQuery())
