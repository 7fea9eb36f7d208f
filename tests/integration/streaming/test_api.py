"""The API served by the stack: health of every part, freshness within the SLA, today's KPIs equal to the
truth from PostgreSQL, and the worker's metrics in Prometheus form."""

from __future__ import annotations

from decimal import Decimal

import httpx
import psycopg
import pytest

from infra.settings import StackSettings
from tests.integration.access_helpers import api_url, authorised_get, service_token
from tests.integration.streaming.helpers import wait_until_verified

pytestmark = pytest.mark.integration

TODAY_SQL = """
WITH t AS (SELECT (now() AT TIME ZONE 'Asia/Taipei')::date AS day)
SELECT (SELECT coalesce(sum(d.line_amount), 0) FROM w200.order_detail d JOIN w200.order_master o USING (order_id)
        WHERE o.order_status <> 'cancelled' AND (o.ordered_at AT TIME ZONE 'Asia/Taipei')::date = t.day),
       (SELECT count(*) FROM w200.order_master o
        WHERE o.order_status <> 'cancelled' AND (o.ordered_at AT TIME ZONE 'Asia/Taipei')::date = t.day),
       (SELECT count(*) FROM w200.order_master o
        WHERE o.order_status = 'delivered' AND (o.promised_to AT TIME ZONE 'Asia/Taipei')::date = t.day),
       (SELECT coalesce(sum(i.total_amount - coalesce(p.paid, 0)), 0) FROM w500.invoice_header i
        LEFT JOIN (SELECT invoice_id, sum(amount) AS paid FROM w500.payment_record WHERE status <> 'reversed'
                   GROUP BY 1) p USING (invoice_id) WHERE i.status <> 'voided')
FROM t
"""


def test_health_freshness_kpis_and_metrics(stack: StackSettings) -> None:
    assert wait_until_verified(stack, timeout=120) == []
    assert httpx.get(api_url(stack, "/kpis/today"), timeout=10).status_code == 401  # nobody without a token
    token = service_token(stack)

    def api(stack: StackSettings, path: str) -> httpx.Response:
        return authorised_get(stack, path, token)

    assert httpx.get(api_url(stack, "/health/live"), timeout=10).json()["status"] == "up"
    health = api(stack, "/health/ready")
    assert health.status_code == 200, health.text
    assert {p["status"] for p in health.json()["parts"].values()} == {"up"}

    freshness = api(stack, "/freshness").json()
    assert len(freshness["tables"]) == 25 and freshness["within_sla"], freshness

    with psycopg.connect(stack.postgres.dsn()) as conn:
        row = conn.execute(TODAY_SQL).fetchone()
    assert row is not None
    net, orders, delivered, outstanding = row
    kpis = api(stack, "/kpis/today").json()
    assert Decimal(kpis["revenue"]["net"]) == net and kpis["orders"] == orders
    assert kpis["deliveries"]["delivered"] == delivered
    assert Decimal(kpis["receivables"]["outstanding"]) == outstanding

    metrics = api(stack, "/metrics").text
    assert 'lg_stream_events_applied_total{table="w200.order_master"}' in metrics
    assert "lg_stream_commit_to_visible_seconds_bucket" in metrics
