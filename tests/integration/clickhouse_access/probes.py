"""Connect as a BI user the way BI tools do (HTTP like JDBC/ODBC over HTTP, native TCP like clickhouse-client)
and compare what it sees with the API's own branch condition (api.access.policy.branch_condition)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import clickhouse_connect
from clickhouse_connect.driver.client import Client as HttpClient
from clickhouse_driver import Client as NativeClient

from api.access.policy import AccessPolicy
from infra.clickhouse.access_render import AccessPlan
from infra.settings import StackSettings

# A query runner: SQL -> rows. One per protocol, so every check runs over both.
Runner = Callable[[str], list[tuple[Any, ...]]]


def http_runner(settings: StackSettings, user: str, password: str, database: str) -> tuple[Runner, Callable[[], None]]:
    client: HttpClient = clickhouse_connect.get_client(host=settings.clickhouse.host, port=settings.clickhouse.http_port,
                                                       username=user, password=password, database=database)
    return (lambda sql: [tuple(r) for r in client.query(sql).result_rows]), client.close


def native_runner(settings: StackSettings, user: str, password: str, database: str) -> tuple[Runner, Callable[[], None]]:
    client = NativeClient(host=settings.clickhouse.host, port=settings.clickhouse.tcp_port, user=user,
                          password=password, database=database)
    return (lambda sql: [tuple(r) for r in client.execute(sql)]), client.disconnect


def connect(protocol: str, settings: StackSettings, user: str, password: str,
            database: str) -> tuple[Runner, Callable[[], None]]:
    return (http_runner if protocol == "http" else native_runner)(settings, user, password, database)


def expected_branch_values(default: HttpClient, policy: AccessPolicy, table: str, column: str,
                           branches: frozenset[str] | None) -> Counter[str]:
    """The branch column's values (as strings, with multiplicity) of the rows the API would show these branches,
    read by `default` from the analytics database itself."""
    condition, parameters = policy.branch_condition(table, branches)
    rows = default.query(f"SELECT toString(`{column}`) FROM `{table}` WHERE {condition}",
                         parameters=parameters).result_rows
    return Counter(str(r[0]) for r in rows)


def seen_branch_values(run: Runner, database: str, view: str, column: str) -> Counter[str]:
    return Counter(str(r[0]) for r in run(f"SELECT toString(`{column}`) FROM `{database}`.`{view}`"))


def granted_views(plan: AccessPlan, user: str) -> list[str]:
    user_plan = next(u for u in plan.users if u.user.name == user)
    return [g.view for g in user_plan.grants if g.columns is None]
