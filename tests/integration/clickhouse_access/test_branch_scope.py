"""A BI user of one branch reads exactly that branch's rows from every branch-carrying table and view, over HTTP
and native TCP; what its role does not read is refused; an all-branch analyst reads every branch."""

from __future__ import annotations

from collections import Counter

import pytest

from infra.clickhouse.runner import get_client
from tests.integration.clickhouse_access.conftest import AccessEnv
from tests.integration.clickhouse_access.data import BRANCHES
from tests.integration.clickhouse_access.probes import (
    connect,
    expected_branch_values,
    granted_views,
    seen_branch_values,
)

pytestmark = pytest.mark.integration
PROTOCOLS = ["http", "native"]


def _source(view: str) -> str:
    return view.removesuffix("_masked")


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("user", ["bi_branch_tpe", "bi_sales_txg"])
def test_a_branch_user_reads_its_own_branch_and_nothing_of_another(access_env: AccessEnv, protocol: str,
                                                                    user: str) -> None:
    env = access_env
    bi_user = env.users[user]
    mine = frozenset(bi_user.branches or ())
    others = frozenset(BRANCHES) - mine
    default = get_client(env.settings)
    run, close = connect(protocol, env.settings, user, env.password(user), env.database)
    checked: list[str] = []
    try:
        for view in granted_views(env.plan, user):
            access = env.policy.table(_source(view))
            if access.branch_column is None:
                continue
            expected = expected_branch_values(default, env.policy, access.table, access.branch_column, mine)
            foreign = expected_branch_values(default, env.policy, access.table, access.branch_column, others)
            seen = seen_branch_values(run, env.database, view, access.branch_column)
            assert seen == expected, f"{view}: saw {seen}, the API's condition gives {expected}"
            assert sum(foreign.values()) > 0 or not expected, f"{view}: the other branch has no rows to hide"
            assert not set(seen) & (set(foreign) - set(expected)), f"{view} shows another branch's rows"
            checked.append(view)
    finally:
        close()
        default.close()
    # Every branch-carrying view of the role (sales reads fewer families than a branch manager).
    assert len(checked) >= 12, checked


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_the_branch_user_reads_no_view_its_role_does_not_read(access_env: AccessEnv, protocol: str) -> None:
    env = access_env
    granted = set(granted_views(env.plan, "bi_branch_tpe"))
    refused = sorted(set(env.policy.tables) - granted)
    assert "collections_by_day" in refused and "v_w600_gl_transaction" in refused and "v_bank_movements" in refused
    run, close = connect(protocol, env.settings, "bi_branch_tpe", env.password("bi_branch_tpe"), env.database)
    try:
        for table in refused:
            with pytest.raises(Exception, match=r"Not enough privileges|Unknown table|UNKNOWN_TABLE"):
                run(f"SELECT count() FROM `{env.database}`.`{table}`")
        for table in ("v_w200_order_master", "cur_w200_order_master", "agg_sales"):
            with pytest.raises(Exception, match="Not enough privileges"):
                run(f"SELECT count() FROM `luckygas`.`{table}`")
        listed = {r[0] for r in run("SHOW TABLES")}
        assert listed == granted
        # The filters hold through table functions that read the views too.
        merged = run(f"SELECT DISTINCT branch_code FROM merge('{env.database}', '^v_w200_order_master$')")
        assert merged == [("TPE",)]
    finally:
        close()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_the_analyst_reads_every_branch(access_env: AccessEnv, protocol: str) -> None:
    env = access_env
    default = get_client(env.settings)
    run, close = connect(protocol, env.settings, "bi_analyst", env.password("bi_analyst"), env.database)
    try:
        for view in granted_views(env.plan, "bi_analyst"):
            access = env.policy.table(_source(view))
            if access.branch_column is None:
                continue
            expected = expected_branch_values(default, env.policy, access.table, access.branch_column, None)
            assert seen_branch_values(run, env.database, view, access.branch_column) == expected, view
        sales = Counter(r[0] for r in run("SELECT member FROM sales"))
        assert sales == Counter({"TPE": 1, "TXG": 1, "P-1": 1})
    finally:
        close()
        default.close()
