"""A ClickHouse server of its own for the direct-access (BI) tests, with two branches of synthetic rows.

`access_env` (session): the project's chdb-core server (infra.clickhouse.runner) on free 127.0.0.1 ports
(or LG_TEST_ACCESS_PORTS="HTTP,TCP") in a temporary state directory, the analytics schema of sinks/ddl.py
and sinks/bank_tables.py filled by `data.seed`, then `provision()` with the real api/access/roles.yaml and
these BI users:

  bi_analyst      analyst, every branch (personal data masked)
  bi_branch_tpe   branch_manager of TPE
  bi_sales_txg    sales of TXG
  bi_quota_probe  analyst with a quota of QUOTA_PROBE_QUERIES queries an hour
  bi_elsewhere    analyst allowed only from 10.255.255.1 (never this machine)

It is not the shared `stack` (test_on_stack.py checks the stack's own provisioning): these tests write
synthetic rows and exhaust a quota, which must not touch the stack the other tests read.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import SecretStr

from api.access.policy import AccessPolicy, load_policy
from infra.clickhouse.access import BiAccessSettings, BiUser, ProvisionReport, build_plan, provision
from infra.clickhouse.access_render import AccessPlan
from infra.clickhouse.runner import clickhouse_healthy, get_client, start_clickhouse, stop_clickhouse
from infra.process import free_port
from infra.settings import ClickHouseSettings, StackSettings
from tests.integration.clickhouse_access.data import seed

QUOTA_PROBE_QUERIES = 5


@dataclass(frozen=True)
class AccessEnv:
    settings: StackSettings
    policy: AccessPolicy
    bi: BiAccessSettings
    users: dict[str, BiUser]
    first_provision: ProvisionReport

    @property
    def plan(self) -> AccessPlan:
        return build_plan(self.policy, self.bi, list(self.users.values()), self.settings.clickhouse.database)

    @property
    def database(self) -> str:
        return self.bi.database

    def password(self, user: str) -> str:
        return self.users[user].password.get_secret_value()


def _user(name: str, role: str, branches: list[str] | None = None, **extra: object) -> BiUser:
    return BiUser.model_validate({"name": name, "password": SecretStr(secrets.token_urlsafe(16)), "role": role,
                                  "branches": branches, **extra})


def access_settings(state_dir: Path) -> StackSettings:
    pinned = os.environ.get("LG_TEST_ACCESS_PORTS")
    http_port, tcp_port = (int(p) for p in pinned.split(",")) if pinned else (free_port(), free_port())
    return StackSettings(state_dir=state_dir, clickhouse=ClickHouseSettings(http_port=http_port, tcp_port=tcp_port))


@pytest.fixture(scope="session")
def access_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AccessEnv]:
    settings = access_settings(tmp_path_factory.mktemp("clickhouse_access"))
    users = [_user("bi_analyst", "analyst"), _user("bi_branch_tpe", "branch_manager", ["TPE"]),
             _user("bi_sales_txg", "sales", ["TXG"]),
             _user("bi_quota_probe", "analyst", queries_per_hour=QUOTA_PROBE_QUERIES),
             _user("bi_elsewhere", "analyst", networks=["10.255.255.1/32"])]
    bi = BiAccessSettings(users=users)
    policy = load_policy()
    if clickhouse_healthy(settings):
        pytest.fail(f"another ClickHouse answers on {settings.clickhouse.http_url()}; these tests need their own")
    start_clickhouse(settings)
    try:
        client = get_client(settings)
        try:
            seed(client, settings.clickhouse.database)
        finally:
            client.close()
        report = provision(settings, policy, bi)
        yield AccessEnv(settings, policy, bi, {u.name: u for u in users}, report)
    finally:
        stop_clickhouse(settings)
