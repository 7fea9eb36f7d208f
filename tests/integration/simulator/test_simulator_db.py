"""The simulator against the real operational database: history and live changes keep every invariant."""

from __future__ import annotations

import subprocess
import sys

import psycopg
import pytest

from infra.settings import StackSettings
from infra.simulator.live import LiveSimulator
from infra.stack import child_env

pytestmark = pytest.mark.integration

INVARIANTS = {
    "unbalanced journals": "SELECT count(*) FROM (SELECT journal_no FROM w600.gl_transaction GROUP BY 1 "
                           "HAVING sum(debit) <> sum(credit)) x",
    "stock differs from its movements": "SELECT count(*) FROM w300.warehouse_stock s LEFT JOIN (SELECT warehouse_code, "
        "product_id, sum(quantity) q, sum(empty_quantity) e FROM w300.stock_movement GROUP BY 1, 2) m "
        "USING (warehouse_code, product_id) WHERE s.qty_full <> coalesce(m.q, 0) OR s.qty_empty <> coalesce(m.e, 0)",
    "negative stock": "SELECT count(*) FROM w300.warehouse_stock WHERE qty_full < 0 OR qty_empty < 0",
    "paid amount differs from payments": "SELECT count(*) FROM w500.invoice_header i LEFT JOIN (SELECT invoice_id, "
        "sum(amount) a FROM w500.payment_record WHERE status <> 'reversed' GROUP BY 1) p USING (invoice_id) "
        "WHERE i.paid_amount <> coalesce(p.a, 0) OR i.paid_amount > i.total_amount",
    "order totals differ from lines": "SELECT count(*) FROM w200.order_master o JOIN (SELECT order_id, "
        "sum(line_amount) s, sum(tax_amount) t FROM w200.order_detail GROUP BY 1) d USING (order_id) "
        "WHERE o.subtotal <> d.s OR o.tax_amount <> d.t OR o.total_amount <> o.subtotal + o.tax_amount",
    "period balances differ from the ledger": "SELECT count(*) FROM w600.account_balance b LEFT JOIN (SELECT "
        "account_code, period, cost_center, sum(debit) d, sum(credit) c FROM w600.gl_transaction GROUP BY 1, 2, 3) g "
        "USING (account_code, period, cost_center) WHERE b.period_debit <> coalesce(g.d, 0) "
        "OR b.period_credit <> coalesce(g.c, 0) OR b.closing_balance <> b.opening_balance + b.period_debit - b.period_credit",
    "delivered by truck without a route stop": "SELECT count(*) FROM w200.order_master o WHERE order_status = "
        "'delivered' AND channel <> 'walk_in' AND NOT EXISTS (SELECT 1 FROM w700.route_detail r WHERE r.order_id = o.order_id)",
}


def broken_invariants(settings: StackSettings) -> dict[str, int]:
    with psycopg.connect(settings.postgres.dsn()) as conn:
        counts = {name: conn.execute(query).fetchone()[0] for name, query in INVARIANTS.items()}  # type: ignore[index]
    return {name: n for name, n in counts.items() if n}


def test_backfilled_history_keeps_every_invariant(stack: StackSettings) -> None:
    with psycopg.connect(stack.postgres.dsn()) as conn:
        for table in ("w200.order_master", "w500.invoice_header", "w700.route_detail", "w300.stock_movement",
                      "w600.gl_transaction", "w500.payment_record"):
            assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] > 0, table  # type: ignore[index]
    assert broken_invariants(stack) == {}


def test_live_changes_of_every_kind_keep_every_invariant(stack: StackSettings) -> None:
    result = LiveSimulator(stack.postgres.dsn(), seed=11, rate=400, progress=lambda _: None).run(duration=6)
    assert result.total_changes > 1000
    for kind in ("new_order", "confirm", "dispatch_run", "deliver_stop", "counter_sale", "late_payment",
                 "correct_amount", "gl_posting"):
        assert result.actions[kind] > 0, kind
    assert result.changes["w200.order_master"] > 0 and result.changes["w500.payment_record"] > 0
    assert broken_invariants(stack) == {}


def test_a_second_backfill_is_refused_and_changes_nothing(stack: StackSettings) -> None:
    with psycopg.connect(stack.postgres.dsn()) as conn:
        before = conn.execute("SELECT count(*) FROM w200.order_master").fetchone()
    done = subprocess.run([sys.executable, "-m", "infra.simulator", "backfill", "--days", "1", "--customers", "10"],
                          env=child_env(stack), capture_output=True, text=True, check=False)
    assert done.returncode == 2 and "refusing to backfill again" in done.stderr
    with psycopg.connect(stack.postgres.dsn()) as conn:
        assert conn.execute("SELECT count(*) FROM w200.order_master").fetchone() == before
