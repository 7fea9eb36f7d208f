"""The role model: roles.yaml loads, covers every table the API or BI may read, maps the source's employee
roles, builds branch conditions, and refuses a broken file with a message naming the problem."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from api.access.masking import mask_row
from api.access.policy import DEFAULT_POLICY_FILE, BranchScopeError, load_policy
from api.reports.bi_views import BI_VIEWS, LABELS_VIEW
from sinks.bank_tables import bank_create_statements, bank_table_defs
from sinks.ddl import table_defs, view_statements

ROLES = {"head_office", "branch_manager", "dispatcher", "sales", "analyst", "auditor", "integration"}


def _views() -> set[str]:
    statements = view_statements("luckygas") + bank_create_statements("luckygas")
    return {m.group(1) for s in statements if (m := re.search(r"VIEW `luckygas`\.`?(\w+)`? AS", s))}


def test_the_seven_roles_and_the_head_office() -> None:
    policy = load_policy()
    assert set(policy.roles) == ROLES
    assert policy.head_office_branch == "TPE"
    assert policy.role("head_office").branch_scope == "all" and {"ledger", "bank"} <= policy.role("head_office").families
    assert policy.role("dispatcher").money == "today_totals"
    assert policy.role("analyst").masked == {"phone", "address", "tax_id", "person_name", "email"}
    assert policy.role("dispatcher").masked == {"tax_id", "email"}  # phone and address: a dispatcher needs them
    assert policy.role("auditor").families >= {"audit", "ledger", "bank"}
    with pytest.raises(ValueError, match="unknown role 'boss'"):
        policy.role("boss")


def test_every_view_and_aggregate_is_listed_and_nothing_unknown() -> None:
    policy = load_policy()
    aggregates = {name for name in table_defs() if name.startswith("agg_")}
    assert _views() | aggregates | set(bank_table_defs()) - {"bank_statements", "bank_movements"} <= set(policy.tables)
    report_views = {v.name for v in BI_VIEWS} | {LABELS_VIEW}  # api/reports/bi_views.py
    assert report_views <= set(policy.tables)
    known = _views() | set(table_defs()) | set(bank_table_defs()) | report_views
    assert set(policy.tables) <= known, set(policy.tables) - known
    internal = {"stream_offsets", "dead_letters", "freshness"} | {n for n in table_defs() if n.startswith("cur_")}
    assert not internal & set(policy.tables)


def test_personal_columns_exist_in_their_tables() -> None:
    policy = load_policy()
    columns = {f"v_{name.removeprefix('cur_')}": {c for c, _ in d.columns} for name, d in table_defs().items()}
    for table in policy.tables.values():
        if table.table in columns:
            assert set(table.personal_columns) <= columns[table.table], table.table
            if table.branch_column:
                assert table.branch_column in columns[table.table], table.table
    assert policy.table("v_w100_customer_contact").personal_columns["mobile"] == "phone"
    assert policy.table("v_w500_invoice_header").personal_columns == {"buyer_tax_id": "tax_id"}


@pytest.mark.parametrize(("code", "branch", "role"), [
    ("manager", "TPE", "head_office"), ("manager", "TXG", "branch_manager"), ("accountant", "TPE", "head_office"),
    ("accountant", "KHH", "branch_manager"), ("dispatcher", "TPE", "dispatcher"), ("sales", "TXG", "sales"),
    ("driver", "TXG", None), ("warehouse", "TPE", None), ("janitor", "TPE", None),
])
def test_source_roles_map_to_roles(code: str, branch: str, role: str | None) -> None:
    assert load_policy().role_for_employee(code, branch) == role


def test_readable_tables_follow_families_and_branch_scope() -> None:
    policy = load_policy()
    dispatcher = {t.table for t in policy.readable("dispatcher")}
    assert {"v_w700_route_detail", "stock_on_hand", "v_w100_customer_address"} <= dispatcher
    assert not dispatcher & {"sales", "receivables_by_customer", "v_w600_gl_transaction", "v_bank_movements"}
    assert "collections_by_day" not in {t.table for t in policy.readable("branch_manager")}  # company-wide
    assert "collections_by_day" in {t.table for t in policy.readable("analyst")}
    assert {"v_bank_movements", "v_w600_gl_transaction"} <= {t.table for t in policy.readable("head_office")}


def test_branch_conditions() -> None:
    policy = load_policy()
    both = frozenset({"TXG", "KHH"})
    assert policy.branch_condition("agg_fulfilment", None) == ("1", {})
    assert policy.branch_condition("agg_fulfilment", both) == ("`branch` IN {branches:Array(String)}",
                                                               {"branches": ["KHH", "TXG"]})
    assert policy.branch_condition("sales", both)[0] == "(`dimension` = 'branch' AND `member` IN {branches:Array(String)})"
    assert policy.branch_condition("v_w500_invoice_detail", both)[0] == (
        "`invoice_id` IN (SELECT `invoice_id` FROM `v_w500_invoice_header` WHERE `customer_id` IN "
        "(SELECT `customer_id` FROM `v_w100_customer_master` WHERE `branch_code` IN {branches:Array(String)}))")
    assert policy.branch_condition("v_w110_product_master", both) == ("1", {})  # shared reference data
    with pytest.raises(BranchScopeError):
        policy.branch_condition("collections_by_day", both)
    with pytest.raises(ValueError, match="not in the access policy"):
        policy.branch_condition("dead_letters", None)


def test_analyst_sees_customer_contacts_masked_and_sales_unmasked() -> None:
    policy = load_policy()
    contact = {"contact_id": 7, "customer_id": 3, "name_zh": "王小明", "mobile": "0912345678", "phone": "02-2345-6789",
               "email": "wang@example.com", "line_id": "wang1988", "accepts_sms": True}
    columns = policy.table("v_w100_customer_contact").personal_columns
    analyst = mask_row(contact, columns, policy.role("analyst").masked)
    assert analyst == {"contact_id": 7, "customer_id": 3, "name_zh": "王**", "mobile": "0912-***-678",
                       "phone": "02-****-6789", "email": "w***@example.com", "line_id": "w**", "accepts_sms": True}
    assert mask_row(contact, columns, policy.role("sales").masked) == contact
    dispatcher = mask_row(contact, columns, policy.role("dispatcher").masked)
    assert dispatcher["mobile"] == "0912345678" and dispatcher["email"] == "w***@example.com"


def _broken(tmp_path: Path, change: dict[str, object]) -> Path:
    data = yaml.safe_load(DEFAULT_POLICY_FILE.read_text(encoding="utf-8"))
    for dotted, value in change.items():
        *parents, last = dotted.split(".")
        node = data
        for p in parents:
            node = node[p]
        node[last] = value
    path = tmp_path / "roles.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(("change", "message"), [
    ({"roles.sales.families": ["sales", "gossip"]}, "role sales: unknown family 'gossip'"),
    ({"roles.analyst.masked": ["phone", "shoe_size"]}, "roles.analyst.masked.1"),
    ({"employee_roles.driver": "chauffeur"}, "employee_roles.driver: unknown role 'chauffeur'"),
    ({"tables.sales.family": "sale"}, "table sales: unknown family 'sale'"),
    ({"tables.v_w100_customer_master.personal_columns": {"tax_id": "dna"}}, "personal_columns.tax_id"),
    ({"tables.v_w100_customer_address.branch_via": {"table": "nowhere", "key": "id"}}, "unknown table 'nowhere'"),
    ({"tables.agg_collections.branch_column": "day"}, "company_wide cannot have a branch column"),
    ({"tables.sales.branch_column": "member; DROP TABLE x"}, "is not an identifier"),
    ({"head_office_branch": "Taipei"}, "is not a branch code"),
    ({"roles.sales.money": "plenty"}, "roles.sales.money"),
    ({"roles.sales.colour": "blue"}, "roles.sales.colour"),
])
def test_a_broken_policy_is_refused_naming_the_problem(tmp_path: Path, change: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        load_policy(_broken(tmp_path, change))


def test_not_yaml_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "roles.yaml"
    path.write_text("roles: [unclosed", encoding="utf-8")
    with pytest.raises(ValueError, match="not valid YAML"):
        load_policy(path)
