"""What a BI login cannot do: write, change DDL, lift its limits, exceed its quota, log in from elsewhere; and
that `default` stays loopback-only, the query log records BI queries, and re-provisioning restarts only on change."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET

import httpx
import pytest

from infra.clickhouse.access import BiUser, provision, render_sql
from infra.clickhouse.runner import get_client, loaded_users_file
from tests.integration.clickhouse_access.conftest import QUOTA_PROBE_QUERIES, AccessEnv
from tests.integration.clickhouse_access.probes import connect

pytestmark = pytest.mark.integration
PROTOCOLS = ["http", "native"]

WRITES = [
    "INSERT INTO sales (member) VALUES ('TPE')",
    "INSERT INTO luckygas.agg_sales (member) VALUES ('TPE')",
    "CREATE TABLE probe (x UInt8) ENGINE = Memory",
    "CREATE TEMPORARY TABLE probe (x UInt8)",
    "CREATE VIEW probe AS SELECT 1",
    "DROP VIEW sales",
    "ALTER TABLE luckygas.cur_w200_order_master DELETE WHERE 1",
    "TRUNCATE TABLE luckygas.agg_sales",
    "OPTIMIZE TABLE luckygas.agg_sales FINAL",
    "SYSTEM FLUSH LOGS",
    "INSERT INTO FUNCTION file('probe.csv', 'CSV', 'x UInt8') VALUES (1)",
    "SELECT * FROM file('/etc/passwd', 'LineAsString')",
    "SELECT count() FROM system.query_log",
    "SET readonly = 0",
    "SELECT * FROM remote('127.0.0.1', 'luckygas', 'v_w200_order_master')",
    "SELECT * FROM url('http://127.0.0.1:1/', 'CSV', 'x String')",
]
# Settings that would hide a query from the audit trail or share cached results between logins.
PINNED = ["log_queries = 0", "log_queries_probability = 0", "log_queries_min_type = 'EXCEPTION_WHILE_PROCESSING'",
          "log_queries_min_query_duration_ms = 100000", "use_query_cache = 1", "query_cache_share_between_users = 1",
          "result_overflow_mode = 'break'"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_writes_ddl_and_escapes_are_refused(access_env: AccessEnv, protocol: str) -> None:
    env = access_env
    run, close = connect(protocol, env.settings, "bi_analyst", env.password("bi_analyst"), env.database)
    try:
        for statement in WRITES:
            with pytest.raises(Exception, match=r"Not enough privileges|readonly|READONLY"):
                run(statement)
        # readonly = 2: a setting may change within the profile's constraints, never beyond them.
        assert run("SELECT count() FROM sales SETTINGS max_result_rows = 10") == [(3,)]
        with pytest.raises(Exception, match="shouldn't be greater than"):
            run(f"SELECT 1 SETTINGS max_result_rows = {env.bi.max_result_rows + 1}")
        with pytest.raises(Exception, match="shouldn't be greater than"):
            run(f"SELECT 1 SETTINGS max_execution_time = {env.bi.max_execution_seconds + 1}")
        for setting in PINNED:
            with pytest.raises(Exception, match=r"should not be changed|SETTING_CONSTRAINT_VIOLATION"):
                run(f"SELECT count() FROM sales SETTINGS {setting}")
    finally:
        close()
    default = get_client(env.settings)
    try:
        assert default.query("SELECT count() FROM luckygas.agg_sales").result_rows == [(3,)]
    finally:
        default.close()


def test_the_hourly_quota_is_enforced(access_env: AccessEnv) -> None:
    env = access_env
    url = env.settings.clickhouse.http_url()
    auth = {"X-ClickHouse-User": "bi_quota_probe", "X-ClickHouse-Key": env.password("bi_quota_probe")}
    answers = [httpx.post(url, headers=auth, content=f"SELECT count() FROM {env.database}.v_w110_branch", timeout=10)
               for _ in range(QUOTA_PROBE_QUERIES + 1)]
    assert [a.status_code for a in answers[:QUOTA_PROBE_QUERIES]] == [200] * QUOTA_PROBE_QUERIES
    assert answers[-1].status_code != 200
    assert "Quota for user `bi_quota_probe` for 3600s has been exceeded" in answers[-1].text
    # Counted per user: another user of the same quota is not affected.
    other = httpx.post(url, headers={"X-ClickHouse-User": "bi_analyst", "X-ClickHouse-Key": env.password("bi_analyst")},
                       content=f"SELECT count() FROM {env.database}.v_w110_branch", timeout=10)
    assert other.status_code == 200


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_login_outside_its_networks_is_refused(access_env: AccessEnv, protocol: str) -> None:
    env = access_env
    with pytest.raises(Exception, match=r"Authentication failed|AUTHENTICATION_FAILED|password is incorrect"):
        run, close = connect(protocol, env.settings, "bi_elsewhere", env.password("bi_elsewhere"), env.database)
        try:
            run("SELECT 1")
        finally:
            close()
    with pytest.raises(Exception, match=r"Authentication failed|AUTHENTICATION_FAILED|password is incorrect"):
        run, close = connect(protocol, env.settings, "bi_analyst", "not-the-password", env.database)
        try:
            run("SELECT 1")
        finally:
            close()


def test_default_stays_passwordless_on_loopback_only(access_env: AccessEnv) -> None:
    settings = access_env.settings
    loaded = ET.fromstring(loaded_users_file(settings).read_text())
    default = loaded.find("users/default")
    assert default is not None
    assert (default.findtext("password") or "") == ""
    assert [ip.text for ip in default.findall("networks/ip")] == ["127.0.0.1", "::1"]
    assert default.find("networks/host") is None and default.find("networks/host_regexp") is None
    config = ET.fromstring((loaded_users_file(settings).parent / "config.xml").read_text())
    assert [e.text for e in config.findall("listen_host")] == ["127.0.0.1"]
    client = get_client(settings)
    try:
        hosts = {r[0]: (r[1], r[2], r[3], r[4]) for r in client.query(
            "SELECT name, host_ip, host_names, host_names_regexp, host_names_like FROM system.users").result_rows}
    finally:
        client.close()
    # The server folds 127.0.0.1 and ::1 into "localhost", the loopback addresses only.
    assert hosts["default"] == ([], ["localhost"], [], [])
    assert hosts["bi_elsewhere"] == (["10.255.255.1"], [], [], [])


def test_the_query_log_records_bi_queries(access_env: AccessEnv) -> None:
    env = access_env
    marker = f"audit-probe-{uuid.uuid4().hex}"
    run, close = connect("native", env.settings, "bi_branch_tpe", env.password("bi_branch_tpe"), env.database)
    try:
        run(f"SELECT /* {marker} */ count() FROM v_w200_order_master")
        with pytest.raises(Exception, match="Not enough privileges"):
            run(f"SELECT /* {marker} */ count() FROM luckygas.v_w200_order_master")
    finally:
        close()
    client = get_client(env.settings)
    try:
        client.command("SYSTEM FLUSH LOGS")
        rows = client.query("SELECT type, user, result_rows, exception_code, interface FROM system.query_log "
                            "WHERE query LIKE {m:String} ORDER BY event_time_microseconds",
                            parameters={"m": f"%{marker}%"}).result_rows
    finally:
        client.close()
    kinds = [(r[0], r[1], r[4]) for r in rows]
    assert ("QueryFinish", "bi_branch_tpe", "TCP") in kinds
    assert any(r[0] == "ExceptionBeforeStart" and r[1] == "bi_branch_tpe" and r[3] == 497 for r in rows)


def test_provisioning_restarts_the_server_only_when_the_users_change(access_env: AccessEnv) -> None:
    env = access_env
    assert env.first_provision.restarted and not env.first_provision.missing_sources
    again = provision(env.settings, env.policy, env.bi)
    assert not again.restarted and set(again.views) == {v.name for v in env.plan.views}
    newcomer = BiUser.model_validate({"name": "bi_newcomer", "password": "newcomer-password-1", "role": "analyst"})
    changed = env.bi.model_copy(update={"users": [*(env.bi.users or []), newcomer]})
    try:
        report = provision(env.settings, env.policy, changed)
        assert report.restarted and report.restart_seconds < 30
        print(f"\nrestart after a change of the users: {report.restart_seconds:.1f}s")
        run, close = connect("http", env.settings, "bi_newcomer", "newcomer-password-1", env.database)
        try:
            assert run("SELECT count() FROM v_w110_branch") == [(2,)]
        finally:
            close()
    finally:
        assert provision(env.settings, env.policy, env.bi).restarted


def test_the_sql_for_a_real_server_parses(access_env: AccessEnv) -> None:
    """Our server has no SQL-driven access control to run it on; its parser still checks every statement."""
    statements = [s for s in render_sql(access_env.plan).splitlines() if s]
    assert any(s.startswith("CREATE ROW POLICY") for s in statements)
    client = get_client(access_env.settings)
    try:
        for statement in statements:
            formatted = client.query("SELECT formatQuery({q:String})", parameters={"q": statement}).result_rows[0][0]
            assert formatted.split()[0] == statement.split()[0], statement
    finally:
        client.close()
