"""Direct BI access rendered from the role model, checked without a server: the plan, the users file, the SQL of
a real server, the server's config and the local passwords."""

from __future__ import annotations

import hashlib
import stat
import xml.etree.ElementTree as ET
from pathlib import Path
from types import MappingProxyType

import pytest
from pydantic import ValidationError

from api.access.policy import AccessPolicy, BranchVia, Role, TableAccess, load_policy
from infra.clickhouse.access import (
    BiAccessSettings,
    BiUser,
    bi_logins,
    bi_users,
    build_plan,
    local_passwords_file,
    provision_users,
)
from infra.clickhouse.access_render import AccessPlan, render_sql, render_users_xml, view_statements
from infra.clickhouse.mask_sql import mask_sql
from infra.clickhouse.runner import clickhouse_process, users_config_file
from infra.clickhouse.server import config_xml
from infra.settings import StackSettings


def user(name: str, role: str, branches: list[str] | None = None, **extra: object) -> BiUser:
    return BiUser.model_validate({"name": name, "password": f"pw-{name}", "role": role, "branches": branches,
                                  **extra})


USERS = [user("bi_analyst", "analyst"), user("bi_branch_tpe", "branch_manager", ["TPE"])]


@pytest.fixture(scope="module")
def plan() -> AccessPlan:
    return build_plan(load_policy(), BiAccessSettings(), USERS, "luckygas")


def grants_of(plan: AccessPlan, name: str) -> dict[str, object]:
    return {g.view: g for g in next(u for u in plan.users if u.user.name == name).grants}


def xml_user(text: str, name: str) -> ET.Element:
    found = ET.fromstring(text).find(f"users/{name}")
    assert found is not None
    return found


# ---------------------------------------------------------------- the plan


def test_the_analyst_gets_masked_views_and_loses_the_personal_columns(plan: AccessPlan) -> None:
    grants = grants_of(plan, "bi_analyst")
    contact = grants["v_w100_customer_contact"]
    assert contact.revoked == ("email", "line_id", "mobile", "name_zh", "phone")  # type: ignore[attr-defined]
    assert "v_w100_customer_contact_masked" in grants
    assert all(g.row_filter is None for g in grants.values())  # type: ignore[attr-defined]
    assert "v_bank_movements" not in grants and "v_w600_gl_transaction" not in grants  # families it does not read
    masked = next(v for v in plan.views if v.name == "v_w100_customer_contact_masked")
    assert masked.source == "v_w100_customer_contact" and masked.masks["mobile"] == "phone"


def test_the_branch_manager_is_filtered_on_every_branch_carrying_view(plan: AccessPlan) -> None:
    policy = load_policy()
    grants = grants_of(plan, "bi_branch_tpe")
    for view, grant in grants.items():
        access = policy.table(view)
        assert (grant.row_filter is None) == (access.branch_column is None), view  # type: ignore[attr-defined]
    assert grants["v_w200_order_master"].row_filter == "`branch_code` IN ('TPE')"  # type: ignore[attr-defined]
    assert grants["sales"].row_filter == "(`dimension` = 'branch' AND `member` IN ('TPE'))"  # type: ignore[attr-defined]
    assert grants["v_w500_invoice_detail"].row_filter == (  # type: ignore[attr-defined]
        "`invoice_id` IN (SELECT `invoice_id` FROM `luckygas_bi`.`v_w500_invoice_header` WHERE `customer_id` IN "
        "(SELECT `customer_id` FROM `luckygas_bi`.`v_w100_customer_master` WHERE `branch_code` IN ('TPE')))")
    assert "collections_by_day" not in grants  # company-wide figures
    assert not any(g.revoked for g in grants.values())  # type: ignore[attr-defined]


def test_an_all_branch_role_limited_to_branches_drops_company_wide_tables() -> None:
    plan = build_plan(load_policy(), BiAccessSettings(), [user("bi_north", "analyst", ["TPE", "NTP"])], "luckygas")
    grants = grants_of(plan, "bi_north")
    assert "collections_by_day" not in grants and "agg_collections" not in grants
    assert grants["stock_on_hand"].row_filter == "`warehouse` IN ('NTP', 'TPE')"  # type: ignore[attr-defined]


def test_sensitive_families_need_an_explicit_yes_without_mfa() -> None:
    users = [user("bi_head", "head_office"), user("bi_audit", "auditor", sensitive_without_mfa=True)]
    plan = build_plan(load_policy(), BiAccessSettings(), users, "luckygas")
    head, audit = grants_of(plan, "bi_head"), grants_of(plan, "bi_audit")
    assert "v_w600_gl_transaction" not in head and "v_bank_movements" not in head and "sales" in head
    assert "v_w600_gl_transaction" in audit and "v_bank_movements" in audit


def test_a_via_table_the_role_does_not_read_is_granted_only_its_key_and_branch() -> None:
    role = Role("picker", "揀貨", "Picker", "own", frozenset({"stock"}), frozenset(), False, "all")
    tables = {
        "moves": TableAccess("moves", "stock", "order_id", MappingProxyType({}),
                             branch_via=BranchVia("orders", "order_id")),
        "orders": TableAccess("orders", "sales", "branch_code", MappingProxyType({"buyer": "person_name"})),
    }
    policy = AccessPolicy(MappingProxyType({"picker": role}), MappingProxyType(tables), MappingProxyType({}), "TPE")
    plan = build_plan(policy, BiAccessSettings(), [user("bi_picker", "picker", ["TXG"])], "src")
    grants = grants_of(plan, "bi_picker")
    assert grants["orders"].columns == ("order_id", "branch_code")  # type: ignore[attr-defined]
    assert grants["orders"].row_filter == "`branch_code` IN ('TXG')"  # type: ignore[attr-defined]
    assert grants["moves"].row_filter == (  # type: ignore[attr-defined]
        "`order_id` IN (SELECT `order_id` FROM `luckygas_bi`.`orders` WHERE `branch_code` IN ('TXG'))")
    assert "GRANT SELECT(`order_id`, `branch_code`) ON `luckygas_bi`.`orders`" in render_users_xml(plan)


@pytest.mark.parametrize(("users", "problem"), [
    ([user("bi_disp", "dispatcher", ["TPE"])], "sees money only through the API"),
    ([user("bi_bm", "branch_manager")], "needs its branches"),
    ([user("bi_x", "no_such_role")], "unknown role"),
    ([user("bi_a", "analyst"), user("bi_a", "analyst")], "unique"),
])
def test_a_plan_that_cannot_be_honoured_is_refused(users: list[BiUser], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        build_plan(load_policy(), BiAccessSettings(), users, "luckygas")


@pytest.mark.parametrize("fields", [
    {"name": "default"}, {"name": "bi-analyst"}, {"name": "x; DROP"}, {"branches": ["TPE'"]},
    {"queries_per_hour": 0},
])
def test_bad_bi_users_are_refused(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        BiUser.model_validate({"name": "bi_ok", "password": "pw", "role": "analyst", **fields})


# ---------------------------------------------------------------- the users file


def test_default_stays_passwordless_unrestricted_and_on_loopback(plan: AccessPlan) -> None:
    default = xml_user(render_users_xml(plan), "default")
    assert default.findtext("password") in ("", None)
    assert [ip.text for ip in default.findall("networks/ip")] == ["127.0.0.1", "::1"]
    assert default.find("grants") is None and default.find("databases") is None
    assert default.findtext("profile") == "default"


def test_a_bi_user_gets_its_hash_profile_quota_grants_and_filters(plan: AccessPlan) -> None:
    text = render_users_xml(plan)
    assert "pw-bi_branch_tpe" not in text
    branch = xml_user(text, "bi_branch_tpe")
    assert branch.findtext("password_sha256_hex") == hashlib.sha256(b"pw-bi_branch_tpe").hexdigest()
    assert branch.findtext("profile") == "bi_readonly" and branch.findtext("quota") == "bi_hourly"
    assert branch.findtext("default_database") == "luckygas_bi"
    grants = [q.text for q in branch.findall("grants/query")]
    assert "GRANT SELECT ON `luckygas_bi`.`v_w200_order_master`" in grants
    assert not any("luckygas`." in (q or "") for q in grants)  # never the analytics database itself
    assert branch.findtext("databases/luckygas_bi/v_w200_order_master/filter") == "`branch_code` IN ('TPE')"
    analyst = xml_user(text, "bi_analyst")
    assert analyst.find("databases") is None
    assert "REVOKE SELECT(`name_zh`, `tax_id`) ON `luckygas_bi`.`v_w100_customer_master`" in [
        q.text for q in analyst.findall("grants/query")]


def test_a_user_without_readable_tables_still_has_a_grants_element() -> None:
    role = Role("nobody", "無", "Nobody", "all", frozenset(), frozenset(), False, "all")
    policy = AccessPolicy(MappingProxyType({"nobody": role}), MappingProxyType({}), MappingProxyType({}), "TPE")
    plan = build_plan(policy, BiAccessSettings(), [user("bi_nobody", "nobody")], "luckygas")
    queries = [q.text for q in xml_user(render_users_xml(plan), "bi_nobody").findall("grants/query")]
    assert queries == ["GRANT SHOW DATABASES ON `luckygas_bi`.*"]


def test_the_profile_is_read_only_with_pinned_limits_and_the_quota_hourly() -> None:
    bi = BiAccessSettings(max_execution_seconds=30, max_result_rows=5000, queries_per_hour=100)
    plan = build_plan(load_policy(), bi, [*USERS, user("bi_gateway", "analyst", queries_per_hour=5000)], "luckygas")
    root = ET.fromstring(render_users_xml(plan))
    profile = root.find("profiles/bi_readonly")
    assert profile is not None and profile.findtext("readonly") == "2"
    assert profile.findtext("max_execution_time") == "30"
    assert profile.findtext("constraints/max_result_rows/max") == "5000"
    assert profile.find("constraints/result_overflow_mode/readonly") is not None
    assert profile.findtext("log_queries") == "1" and profile.find("constraints/log_queries/readonly") is not None
    assert profile.find("constraints/query_cache_share_between_users/readonly") is not None
    assert root.findtext("quotas/bi_hourly/interval/duration") == "3600"
    assert root.findtext("quotas/bi_hourly/interval/queries") == "100"
    assert root.findtext("quotas/bi_hourly_bi_gateway/interval/queries") == "5000"
    assert xml_user(ET.tostring(root, encoding="unicode"), "bi_gateway").findtext("quota") == "bi_hourly_bi_gateway"


def test_rendering_is_deterministic(plan: AccessPlan) -> None:
    again = build_plan(load_policy(), BiAccessSettings(), USERS, "luckygas")
    assert render_users_xml(plan) == render_users_xml(again) and render_sql(plan) == render_sql(again)


# ---------------------------------------------------------------- views and the SQL of a real server


def test_views_run_as_the_definer_and_mask_personal_columns(plan: AccessPlan) -> None:
    statements = view_statements(plan)
    assert statements[0] == "CREATE DATABASE IF NOT EXISTS `luckygas_bi`"
    plain = next(s for s in statements if "`luckygas_bi`.`v_w100_customer_contact` " in s)
    assert plain.endswith("DEFINER = `default` SQL SECURITY DEFINER AS SELECT * FROM `luckygas`.`v_w100_customer_contact`")
    masked = next(s for s in statements if "`v_w100_customer_contact_masked`" in s)
    assert "SELECT * REPLACE (" in masked and f"{mask_sql('phone', 'mobile')} AS `mobile`" in masked


def test_the_sql_for_a_real_server_has_roles_users_policies_and_no_password(plan: AccessPlan) -> None:
    sql = render_sql(plan)
    assert "pw-bi_analyst" not in sql
    assert "CREATE ROLE OR REPLACE bi_role_analyst;" in sql
    assert "GRANT SELECT ON `luckygas_bi`.`sales` TO bi_role_branch_manager;" in sql
    assert "REVOKE SELECT(`name_zh`, `tax_id`) ON `luckygas_bi`.`v_w100_customer_master` FROM bi_role_analyst;" in sql
    sha = hashlib.sha256(b"pw-bi_analyst").hexdigest()
    assert f"CREATE USER OR REPLACE bi_analyst IDENTIFIED WITH sha256_hash BY '{sha}' HOST IP '127.0.0.1', IP '::1'" in sql
    assert "SET DEFAULT ROLE bi_role_analyst TO bi_analyst;" in sql
    assert ("CREATE ROW POLICY OR REPLACE bi_branch_tpe ON `luckygas_bi`.`v_w200_order_master` USING "
            "`branch_code` IN ('TPE') AS PERMISSIVE TO bi_branch_tpe;") in sql
    # Every BI user is named by a policy on every view it reads: nothing relies on "no policy = every row".
    assert "CREATE ROW POLICY OR REPLACE bi_analyst ON `luckygas_bi`.`sales` USING 1 AS PERMISSIVE TO bi_analyst;" in sql
    assert "SETTINGS readonly = 2, max_execution_time = 120 MAX 120" in sql
    assert "log_queries = 1 CONST" in sql and "log_queries_min_type = 'QUERY_START' CONST" in sql
    assert "CREATE QUOTA OR REPLACE bi_hourly KEYED BY user_name FOR INTERVAL 1 HOUR MAX queries = 1000" in sql


def test_an_unknown_mask_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="no SQL mask"):
        mask_sql("iban", "account")


# ---------------------------------------------------------------- the server, its config, local passwords


def test_the_server_listens_on_loopback_and_keeps_a_query_log(tmp_path: Path) -> None:
    root = ET.fromstring(config_xml(18123, 19000, tmp_path / "users.xml", query_log_days=400))
    assert [e.text for e in root.findall("listen_host")] == ["127.0.0.1"]
    assert root.findtext("users_config") == str(tmp_path / "users.xml")
    assert root.findtext("query_log/table") == "query_log"
    assert root.findtext("query_log/ttl") == "event_date + INTERVAL 400 DAY DELETE"
    bare = ET.fromstring(config_xml(18123, 19000))
    assert bare.find("users_config") is None and bare.find("query_log") is None


def test_the_runner_passes_the_users_file_once_it_exists(tmp_path: Path) -> None:
    settings = StackSettings(state_dir=tmp_path)
    assert "--users-config" not in clickhouse_process(settings).argv
    assert "--query-log-days" in clickhouse_process(settings).argv
    users_config_file(settings).parent.mkdir(parents=True)
    users_config_file(settings).write_text("<clickhouse/>")
    argv = list(clickhouse_process(settings).argv)
    assert argv[argv.index("--users-config") + 1] == str(users_config_file(settings))


def test_local_demo_users_get_passwords_generated_once(tmp_path: Path) -> None:
    settings = StackSettings(state_dir=tmp_path)
    first = bi_users(settings)
    assert [(u.name, u.role, u.branches) for u in first] == [("bi_analyst", "analyst", None),
                                                            ("bi_branch_tpe", "branch_manager", ["TPE"])]
    assert len(first[0].password.get_secret_value()) >= 20
    assert [u.password for u in bi_users(settings)] == [u.password for u in first]
    assert stat.S_IMODE(local_passwords_file(settings).stat().st_mode) == 0o600
    lines = bi_logins(settings)
    assert lines[0].startswith(f"bi_analyst / {first[0].password.get_secret_value()}  (analyst, all branches)")
    assert "native 127.0.0.1:19000 database luckygas_bi" in lines[0]
    configured = BiAccessSettings(users=[user("bi_tool", "analyst")])
    assert [u.name for u in bi_users(settings, configured)] == ["bi_tool"]


def test_provisioning_a_stopped_server_writes_the_file_and_restarts_nothing(tmp_path: Path,
                                                                            plan: AccessPlan) -> None:
    settings = StackSettings(state_dir=tmp_path)
    assert provision_users(settings, plan) is None
    path = users_config_file(settings)
    assert path.read_text() == render_users_xml(plan)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_every_profile_prunes_month_partitions_under_final(plan: AccessPlan) -> None:
    root = ET.fromstring(render_users_xml(plan))
    for profile in ("default", "bi_readonly"):
        assert root.findtext(f"profiles/{profile}/defer_partition_pruning_after_final") == "0", profile
        assert root.findtext(f"profiles/{profile}/do_not_merge_across_partitions_select_final") == "1", profile
    assert "defer_partition_pruning_after_final = 0" in render_sql(plan)
    assert "do_not_merge_across_partitions_select_final = 1" in render_sql(plan)
