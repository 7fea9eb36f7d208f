"""On the running stack: a branch manager signs in with a demo password and sees only their branch; moved to
another branch in PostgreSQL (as the legacy HR screen would), the same token shows the new branch within
seconds (CDC → ClickHouse → the API's principal), and an employee who leaves is refused."""

from __future__ import annotations

import time

import orjson
import psycopg
import pytest

from api.access.seed_demo_users import demo_passwords_file
from infra.settings import StackSettings
from tests.integration.access_helpers import api_post, authorised_get
from tests.integration.waiting import wait_for

pytestmark = pytest.mark.integration


def _branch_manager(stack: StackSettings) -> tuple[str, int, str, str]:
    """(employee_no, employee_id, branch, another branch) of a seeded branch manager."""
    seeded = list(orjson.loads(demo_passwords_file(stack.state_dir).read_bytes()))
    with psycopg.connect(stack.postgres.dsn()) as conn:
        row = conn.execute(
            "SELECT e.employee_no, e.employee_id, e.branch_code, "
            "(SELECT min(b.branch_code) FROM w110.branch b WHERE b.branch_code NOT IN (e.branch_code, 'TPE')) "
            "FROM w110.employee_master e JOIN w110.employee_role r USING (role_id) "
            "WHERE r.code = 'manager' AND e.branch_code <> 'TPE' AND e.employee_no = ANY(%s) "
            "ORDER BY e.employee_no LIMIT 1", (seeded,)).fetchone()
    assert row is not None, "make up seeds branch managers among the demo sign-ins"
    return row[0], row[1], row[2], row[3]


def _sign_in(stack: StackSettings, user: str) -> str:
    password = orjson.loads(demo_passwords_file(stack.state_dir).read_bytes())[user]
    response = api_post(stack, "/oauth/token", data={"grant_type": "password", "username": user,
                                                      "password": password})
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def _set_employee(stack: StackSettings, employee_id: int, **values: str) -> None:
    sets = ", ".join(f"{column} = %({column})s" for column in values)
    with psycopg.connect(stack.postgres.dsn()) as conn:
        conn.execute(f"UPDATE w110.employee_master SET {sets}, updated_at = now() WHERE employee_id = %(id)s",
                     {**values, "id": employee_id})


def test_a_transfer_in_postgresql_changes_what_the_same_token_sees_within_seconds(stack: StackSettings) -> None:
    user, employee_id, branch, other = _branch_manager(stack)
    token = _sign_in(stack, user)
    assert authorised_get(stack, "/kpis/today", token).json()["branches"] == [branch]
    started = time.monotonic()
    _set_employee(stack, employee_id, branch_code=other)
    try:
        wait_for("the transfer", lambda: authorised_get(stack, "/kpis/today", token).json()["branches"] == [other], 60)
        moved_after = time.monotonic() - started
        assert moved_after < 30, f"the transfer took {moved_after:.1f}s to reach the API"
        print(f"transfer visible to the API after {moved_after:.2f} s")
        _set_employee(stack, employee_id, status="terminated")
        wait_for("the refusal", lambda: authorised_get(stack, "/kpis/today", token).status_code == 401, 60)
    finally:
        _set_employee(stack, employee_id, branch_code=branch, status="active")
    wait_for("the return", lambda: authorised_get(stack, "/kpis/today", token).status_code == 200, 60)
