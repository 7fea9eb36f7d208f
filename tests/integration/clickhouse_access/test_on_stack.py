"""The stack's own direct access, as `make up` provisions it: its demo BI users on its real (simulated) data.

Needs `infra.stack.up` to call `infra.clickhouse.access.provision(settings)`. Reads only, and restarts nothing:
it first checks that the users file the stack's server runs is the one the settings give.
"""

from __future__ import annotations

import re

import pytest

from api.access.policy import load_policy
from infra.clickhouse.access import bi_access_settings, bi_users, current_plan
from infra.clickhouse.access_render import render_users_xml
from infra.clickhouse.runner import get_client, loaded_users_file
from infra.settings import StackSettings
from tests.integration.clickhouse_access.probes import (
    connect,
    expected_branch_values,
    granted_views,
    seen_branch_values,
)

pytestmark = pytest.mark.integration


def test_up_provisioned_the_demo_users(stack: StackSettings) -> None:
    loaded = loaded_users_file(stack)
    assert loaded.exists(), "infra.stack.up did not provision direct access (no users file at the server's start)"
    assert loaded.read_text() == render_users_xml(current_plan(stack)), "the running server has an older users file"


@pytest.mark.parametrize("protocol", ["http", "native"])
def test_the_tpe_branch_login_reads_only_tpe_rows(stack: StackSettings, protocol: str) -> None:
    policy, plan = load_policy(), current_plan(stack)
    login = next(u for u in bi_users(stack) if u.branches == ["TPE"])
    database = bi_access_settings(stack).database
    default = get_client(stack)
    run, close = connect(protocol, stack, login.name, login.password.get_secret_value(), database)
    nonempty = []
    try:
        for view in granted_views(plan, login.name):
            access = policy.table(view.removesuffix("_masked"))
            if access.branch_column is None:
                continue
            expected = expected_branch_values(default, policy, access.table, access.branch_column, frozenset({"TPE"}))
            assert seen_branch_values(run, database, view, access.branch_column) == expected, view
            if expected:
                nonempty.append(view)
    finally:
        close()
        default.close()
    assert {"v_w200_order_master", "v_w100_customer_master", "sales"} <= set(nonempty)


def test_the_analyst_login_sees_phones_masked(stack: StackSettings) -> None:
    login = next(u for u in bi_users(stack) if u.role == "analyst")
    run, close = connect("http", stack, login.name, login.password.get_secret_value(),
                         bi_access_settings(stack).database)
    try:
        mobiles = [r[0] for r in run("SELECT mobile FROM v_w100_customer_contact_masked WHERE mobile != '' LIMIT 100")]
        assert mobiles and all(re.fullmatch(r"09\d\d-\*\*\*-\d{3}", m) for m in mobiles), mobiles[:5]
        with pytest.raises(Exception, match="Not enough privileges"):
            run("SELECT mobile FROM v_w100_customer_contact LIMIT 1")
    finally:
        close()
