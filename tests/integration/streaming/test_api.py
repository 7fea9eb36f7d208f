"""The API served by the stack: health of every part, freshness within the SLA, today's KPIs equal to the
truth from PostgreSQL, and the worker's metrics in Prometheus form."""

from __future__ import annotations

import socket
import ssl
from decimal import Decimal

import httpx
import psycopg
import pytest

from infra.settings import StackSettings
from tests.integration.access_helpers import api_get, api_url, authorised_get, service_token
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
    assert api_get(stack, "/kpis/today").status_code == 401  # nobody without a token
    with pytest.raises(httpx.HTTPError):  # HTTPS only: no plain-HTTP listener
        httpx.get(api_url(stack, "/health/live").replace("https://", "http://"), timeout=5)
    token = service_token(stack)

    def api(stack: StackSettings, path: str) -> httpx.Response:
        return authorised_get(stack, path, token)

    assert api_get(stack, "/health/live").status_code == 401  # liveness too needs a token
    live = api(stack, "/health/live")
    assert live.json()["status"] == "up" and live.headers["strict-transport-security"].startswith("max-age=")
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


def test_the_api_speaks_tls_13_and_refuses_tls_11(stack: StackSettings) -> None:
    ca = str(stack.api_tls_files().ca_certificate)
    modern = ssl.create_default_context(cafile=ca)
    with socket.create_connection((stack.api.host, stack.api.port), timeout=5) as sock, \
            modern.wrap_socket(sock, server_hostname=stack.api.host) as tls:
        assert tls.version() == "TLSv1.3"
    old = ssl.create_default_context(cafile=ca)
    old.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    old.maximum_version = ssl.TLSVersion.TLSv1_1
    with socket.create_connection((stack.api.host, stack.api.port), timeout=5) as sock, \
            pytest.raises(ssl.SSLError), old.wrap_socket(sock, server_hostname=stack.api.host):
        pass
