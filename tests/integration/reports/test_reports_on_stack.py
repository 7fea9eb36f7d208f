"""The report catalog on the running stack, as its users reach it.

- after a mixed live workload (inserts, updates, deletes, cancellations, late payments) every report equals
  its truth recomputed from PostgreSQL, as the head office and as one branch;
- every report runs for every role that may run it (sensitive ones with a verified TOTP) and is refused for
  the others, through the API with the demo sign-ins;
- a cached report is never served after a change that affects it was applied.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import psycopg
import pytest

from api.access.policy import load_policy
from api.access.rows import RowScope
from api.access.seed_demo_users import DemoUser, demo_passwords_file, seed_demo_users
from api.reports.catalog import catalog
from api.reports.definition import Report
from api.reports.describe import sensitive
from api.reports.parameters import parse
from api.reports.rights import families_needed
from api.reports.runner import all_rows, prepare
from infra.clickhouse.runner import get_client
from infra.clock import SystemClock, business_day
from infra.settings import StackSettings
from infra.verify.report_truth import Truth, truths
from infra.verify.reports import check_report, principals, report_differences
from tests.integration.access_helpers import api_get
from tests.integration.reports.sign_in import password_token, with_mfa
from tests.integration.streaming.helpers import simulator_running, wait_until_verified
from tests.integration.waiting import wait_for

pytestmark = pytest.mark.integration
POLICY = load_policy()


@pytest.fixture(scope="module")
def people(stack: StackSettings) -> dict[str, str]:
    """Role → an access token of a demo sign-in with that role (MFA verified where the role runs sensitive
    reports)."""
    users: list[DemoUser] = seed_demo_users(stack.postgres.dsn(), demo_passwords_file(stack.state_dir))
    tokens: dict[str, str] = {}
    for user in users:
        if user.grant != "password" or user.role in tokens:
            continue
        token = password_token(stack, user.user)
        tokens[user.role] = with_mfa(stack, token) if POLICY.role(user.role).sensitive else token
    return tokens


def test_every_report_equals_the_truth_after_a_mixed_live_workload(stack: StackSettings) -> None:
    with simulator_running(stack, rate=40, seconds=25, seed=1101):
        pass
    assert wait_until_verified(stack) == []
    diffs: list[Any] = []

    def settled() -> bool:
        nonlocal diffs
        diffs, _ = report_differences(stack)
        return not diffs

    wait_for("every report to equal its truth", settled, 90)
    _, checked = report_differences(stack)
    assert set(checked) == set(catalog()), "every report is checked"
    empty = sorted(report for report, cells in checked.items() if cells == 0)
    assert len(empty) <= len(checked) // 5, f"reports whose cases returned no rows: {empty}"


def test_a_payment_made_by_another_customer_counts_for_the_invoice_it_pays(stack: StackSettings) -> None:
    """A parent company pays its subsidiary's invoice: the invoice's customer sees it paid in invoice_payments,
    as ar_aging and open_invoices count it (every live payment of the invoice, whoever paid). The payer is of
    the same branch: a branch sees payments by its own customers (roles.yaml; the README says what remains)."""
    with psycopg.connect(stack.postgres.dsn(), autocommit=True) as conn:
        found = conn.execute("SELECT invoice_id, customer_id FROM w500.invoice_header WHERE status <> 'voided' "
                             "AND total_amount > paid_amount + 1 ORDER BY invoice_id LIMIT 1").fetchone()
        assert found is not None, "an open invoice to pay"
        invoice_id, owner = found
        inserted = conn.execute(
            "INSERT INTO w500.payment_record (payment_id, invoice_id, customer_id, payment_date, received_at, "
            "amount, method, status) SELECT max(payment_id) + 1000000, %s, (SELECT min(p.customer_id) FROM "
            "w100.customer_master p JOIN w100.customer_master o ON o.branch_code = p.branch_code "
            "WHERE o.customer_id = %s AND p.customer_id <> o.customer_id), current_date, now(), 1.00, 'cash', "
            "'received' FROM w500.payment_record RETURNING payment_id", (invoice_id, owner)).fetchone()
        assert inserted is not None
        payment_id = inserted[0]
        conn.execute("UPDATE w500.invoice_header SET paid_amount = paid_amount + 1, updated_at = now() "
                     "WHERE invoice_id = %s", (invoice_id,))
    assert wait_until_verified(stack) == []
    report = catalog()["invoice_payments"]
    case = {"customer_id": str(owner), "open_only": "false"}
    clickhouse = get_client(stack)
    try:
        with psycopg.connect(stack.postgres.dsn()) as conn:
            diffs, cells = check_report(report, Truth(truths(stack)["invoice_payments"].sql, (case,)), conn,
                                        clickhouse, load_policy(stack.access.policy_file),
                                        business_day(SystemClock().now()))
        policy, head_office, today = load_policy(stack.access.policy_file), principals()[0], business_day(SystemClock().now())
        values = parse(report, case, today, head_office, policy)
        rows = all_rows(clickhouse, prepare(report, values, RowScope(head_office, policy), today))
    finally:
        clickhouse.close()
    assert diffs == [] and cells > 0
    names = [c.name for c in report.columns]
    paid = {row[names.index("payment_id")] for row in rows if row[names.index("invoice_id")] == invoice_id}
    assert payment_id in paid


def _sample(report: Report, today: date) -> dict[str, str]:
    values = {"date": (today - timedelta(days=3)).isoformat(), "month": today.strftime("%Y-%m"), "int": "1",
              "text": "x", "branch": "TPE", "bool": "false"}
    return {p.name: (p.choices[0] if p.kind == "choice" else values[p.kind]) for p in report.params if p.required}


def test_every_report_runs_for_its_roles_and_is_refused_for_the_others(stack: StackSettings,
                                                                       people: dict[str, str]) -> None:
    today = business_day(SystemClock().now())
    assert {"head_office", "branch_manager", "dispatcher", "sales", "analyst", "auditor"} <= set(people)
    problems = []
    for report in catalog().values():
        for role, token in people.items():
            allowed = families_needed(report, POLICY) <= set(POLICY.role(role).families) and (
                POLICY.role(role).sensitive or not sensitive(report, POLICY))
            params = _sample(report, today)
            if POLICY.role(role).branch_scope == "own":
                params.pop("branch", None)  # a caller of one branch gets its own
            response = api_get(stack, f"/reports/{report.id}", params=params,
                               headers={"Authorization": f"Bearer {token}"})
            company_wide = response.status_code == 403 and "company-wide" in response.text
            expected = {200} if allowed else {403}
            if response.status_code not in expected and not (allowed and company_wide):
                problems.append(f"{report.id} as {role}: {response.status_code} {response.text[:200]}")
    assert problems == []


def test_a_cached_report_is_never_older_than_its_data(stack: StackSettings, people: dict[str, str]) -> None:
    headers = {"Authorization": f"Bearer {people['head_office']}"}
    with psycopg.connect(stack.postgres.dsn()) as conn:  # the newest TPE order still counted as a sale
        found = conn.execute(
            "SELECT order_id, date(ordered_at AT TIME ZONE 'Asia/Taipei')::text FROM w200.order_master "
            "WHERE branch_code = 'TPE' AND order_status <> 'cancelled' ORDER BY ordered_at DESC LIMIT 1").fetchone()
    assert found is not None
    order_id, day = found
    params = {"date_from": day, "date_to": day, "branch": "TPE"}
    first = api_get(stack, "/reports/daily_sales", params=params, headers=headers)
    assert first.status_code == 200, first.text
    etag = first.headers["etag"]
    assert api_get(stack, "/reports/daily_sales", params=params,
                   headers={**headers, "If-None-Match": etag}).status_code == 304
    before = sum(r["orders"] for r in first.json()["rows"])
    with psycopg.connect(stack.postgres.dsn()) as conn:  # cancelled, as the order screen does
        conn.execute("UPDATE w200.order_master SET order_status = 'cancelled', cancelled_at = now(), "
                     "updated_at = now() WHERE order_id = %s", (order_id,))

    def changed() -> bool:
        response = api_get(stack, "/reports/daily_sales", params=params, headers=headers)
        return response.status_code == 200 and sum(r["orders"] for r in response.json()["rows"]) == before - 1

    wait_for("the cancellation in the cached report", changed, 60)
    later = api_get(stack, "/reports/daily_sales", params=params, headers={**headers, "If-None-Match": etag})
    assert later.status_code == 200 and later.headers["etag"] != etag
