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
from api.access.seed_demo_users import DemoUser, demo_passwords_file, seed_demo_users
from api.reports.catalog import catalog
from api.reports.definition import Report
from api.reports.describe import sensitive
from api.reports.rights import families_needed
from infra.clock import SystemClock, business_day
from infra.settings import StackSettings
from infra.verify.reports import report_differences
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
