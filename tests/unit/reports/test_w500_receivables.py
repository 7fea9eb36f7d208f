"""W500 receivables, collections and tax reports: SQL for every role that may run them, no value pasted into it,
the shapes chosen by parameters, the tax periods, and a truth for every report."""

from __future__ import annotations

import re
from datetime import date

import pytest
from fastapi import HTTPException

from api.access.policy import load_policy
from api.access.principal import Principal
from api.access.rows import RowScope
from api.reports.catalog import check
from api.reports.definition import Report
from api.reports.library import w500_receivables, w500_tax
from api.reports.library.w500_tax import period_end, period_start
from api.reports.parameters import ParameterForbidden, parse
from api.reports.runner import Prepared, prepare
from infra.verify.report_truth import w500_receivables as receivables_truth
from infra.verify.report_truth import w500_tax as tax_truth

TODAY = date(2026, 12, 2)
POLICY = load_policy()
REPORTS = (*w500_receivables.REPORTS, *w500_tax.REPORTS)
# Distinctive values, so that one pasted into the SQL would be seen.
VALUES = {"as_of": "2026-10-31", "branch": "TXG", "customer_id": "987654", "date_from": "2026-09-13",
          "date_to": "2026-10-17", "day": "2026-11-14", "period": "2026-09", "period_to": "2026-12",
          "include_inactive": "true", "open_only": "false", "include_settled": "true", "include_all": "true",
          "include_voided": "true", "grain": "day", "invoice_type": "B2B"}
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*):[^}]+\}")


def _who(role: str) -> Principal:
    branches = None if POLICY.role(role).branch_scope == "all" else frozenset({"TXG"})
    return Principal(f"test:{role}", "person", role, branches, frozenset(), None, None)


def _prepare(report: Report, role: str, raw: dict[str, str]) -> Prepared:
    who = _who(role)
    return prepare(report, parse(report, raw, TODAY, who, POLICY), RowScope(who, POLICY), TODAY)


def _raw(report: Report) -> dict[str, str]:
    return {p.name: VALUES[p.name] for p in report.params}


def _roles(report: Report) -> list[str]:
    return [name for name, role in POLICY.roles.items() if report.family in role.families]


@pytest.mark.parametrize("report", REPORTS, ids=lambda r: r.id)
def test_builds_for_every_role_that_may_run_it_and_pastes_no_value(report: Report) -> None:
    assert _roles(report)
    for role in _roles(report):
        if "include_inactive" in _raw(report) and not POLICY.role(role).inactive_customers:
            with pytest.raises(ParameterForbidden):  # machine clients never list closed customers
                _prepare(report, role, _raw(report))
            raw = {k: v for k, v in _raw(report).items() if k != "include_inactive"}
        else:
            raw = _raw(report)
        try:
            prepared = _prepare(report, role, raw)
        except HTTPException as refused:  # a company-wide table for a branch-scoped role
            assert refused.status_code == 403 and _who(role).branches is not None
            continue
        for name, value in raw.items():
            if name in ("include_inactive", "open_only", "include_settled", "include_all", "include_voided",
                        "grain"):
                continue  # shapes, not values
            assert value not in prepared.sql, f"{report.id}: {name}={value!r} pasted into the SQL"
        assert set(PLACEHOLDER.findall(prepared.sql)) <= set(prepared.parameters), report.id
        if _who(role).branches is not None:
            assert prepared.parameters["branches"] == ["TXG"]


def test_definitions_are_sound_and_each_has_a_truth() -> None:
    assert {d.report for r in REPORTS for d in r.drill} <= {r.id for r in REPORTS}
    assert check(REPORTS, POLICY) == []
    truths = {**receivables_truth.TRUTHS, **tax_truth.TRUTHS}
    assert sorted(truths) == sorted(r.id for r in REPORTS)
    for report in REPORTS:
        assert len(truths[report.id].cases) >= 2, report.id
        assert {p.name for p in report.params} >= set(re.findall(r"%\((\w+)\)s", truths[report.id].sql)) - {
            "branches", "today"}, report.id


def test_as_of_reads_void_dates_in_taipei_and_leaves_reversed_payments_out() -> None:
    sql = _prepare(w500_receivables.AR_AGING, "head_office", {}).sql
    assert "toDate(i.voided_at, 'Asia/Taipei') <= {p_as_of:Date32}" in sql
    # What is open now plus the live payments made after the day (so not yet made on it).
    assert "p.status != 'reversed' AND p.payment_date > {p_as_of:Date32}" in sql
    assert "f.voided != 0 AND f.voided_on <= {p_as_of:Date32}" in sql
    assert "c.status NOT IN {x_inactive_statuses:Array(String)}" in sql
    assert "{p_branch:String}" not in sql  # no branch asked for: every branch the caller sees


def test_parameters_choose_the_shape() -> None:
    open_only = _prepare(w500_receivables.INVOICE_PAYMENTS, "sales", {"customer_id": "5"}).sql
    everything = _prepare(w500_receivables.INVOICE_PAYMENTS, "sales", {"customer_id": "5", "open_only": "false"}).sql
    assert "!= 0 ORDER BY" in open_only and "!= 0 ORDER BY" not in everything
    monthly = _prepare(w500_receivables.COLLECTION_PERFORMANCE, "analyst", {})
    daily = _prepare(w500_receivables.COLLECTION_PERFORMANCE, "analyst", {"grain": "day"})
    assert "toStartOfMonth(i.invoice_date)" in monthly.sql and "toStartOfMonth" not in daily.sql
    assert monthly.values["date_from"] == date(2026, 10, 1)
    typed = _prepare(w500_receivables.PERIOD_INVOICES, "auditor", {"invoice_type": "B2C"}).sql
    assert "i.invoice_type = {p_invoice_type:String}" in typed and "i.status != 'voided'" in typed
    assert "invoice_type =" not in _prepare(w500_receivables.PERIOD_INVOICES, "auditor", {}).sql


def test_tax_periods_are_two_months_from_odd_months() -> None:
    assert (period_start("2026-09"), period_end("2026-10")) == (date(2026, 9, 1), date(2026, 10, 31))
    assert (period_start("2026-12"), period_end("2026-11")) == (date(2026, 11, 1), date(2026, 12, 31))
    assert (period_start("2028-02"), period_end("2028-01")) == (date(2028, 1, 1), date(2028, 2, 29))
    prepared = _prepare(w500_tax.OUTPUT_TAX_SUMMARY, "head_office", {"period": "2026-12", "period_to": "2026-03"})
    assert (prepared.parameters["x_period_start"], prepared.parameters["x_period_end"]) == (
        date(2026, 3, 1), date(2026, 12, 31))
    current = _prepare(w500_tax.OUTPUT_TAX_SUMMARY, "sales", {})
    assert (current.parameters["x_period_start"], current.parameters["x_period_end"]) == (
        date(2026, 11, 1), date(2026, 12, 31))


def test_the_tax_summary_is_sensitive_and_the_day_check_is_the_ledgers() -> None:
    assert w500_tax.OUTPUT_TAX_SUMMARY.sensitive is True
    assert _roles(w500_tax.DAILY_BALANCE_VERIFICATION) == ["head_office", "auditor"]
    prepared = _prepare(w500_tax.DAILY_BALANCE_VERIFICATION, "auditor", {})
    assert prepared.values["day"] == date(2026, 12, 1)
    assert prepared.parameters["x_ar_account"] == "1191" and "'1191'" not in prepared.sql
    assert "v_w600_gl_transaction" in prepared.tables
