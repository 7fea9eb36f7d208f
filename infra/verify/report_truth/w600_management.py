"""Truths of the W600 management reports, from w600.gl_transaction, account_balance, gl_master and w110.branch.

Budget against actual takes the budget from the period balances and the actual from the ledger lines (a line
without a balance row, or a balance row without lines, shows up as a difference). Cost of sales is told by the
account code (5xxx), the report by the chart's parent account.
"""

from __future__ import annotations

from infra.verify.report_truth import Truth

_SCOPE = ("(%(branches)s::text[] IS NULL OR {a}.cost_center = ANY(%(branches)s)) "
          "AND (%(branch)s::text IS NULL OR {a}.cost_center = %(branch)s)")
_G, _B = _SCOPE.format(a="g"), _SCOPE.format(a="b")
_RANGES: tuple[dict[str, str], ...] = ({}, {"period_from": "2026-10", "period_to": "2026-11"},
           {"period_from": "2026-09", "period_to": "2026-12", "branch": "TPE"})

TRUTHS = {
    "budget_vs_actual": Truth(f"""
        WITH l AS (SELECT g.account_code, g.cost_center, sum(g.debit) AS debit, sum(g.credit) AS credit
                   FROM w600.gl_transaction g WHERE g.period = %(period)s AND {_G} GROUP BY 1, 2),
        b AS (SELECT b.account_code, b.cost_center, b.budget_amount
              FROM w600.account_balance b WHERE b.period = %(period)s AND {_B}),
        x AS (SELECT account_code, cost_center, coalesce(b.budget_amount, 0) AS budget,
                     coalesce(l.debit, 0) AS debit, coalesce(l.credit, 0) AS credit
              FROM b FULL JOIN l USING (account_code, cost_center)),
        y AS (SELECT m.account_code, m.name_zh, m.name_en, m.account_type, x.cost_center, x.budget,
                     CASE WHEN m.account_type = 'revenue' THEN x.credit - x.debit ELSE x.debit - x.credit END AS actual
              FROM x JOIN w600.gl_master m USING (account_code) WHERE m.account_type IN ('revenue', 'expense'))
        SELECT account_code, name_zh, name_en, account_type, cost_center, budget, actual, actual - budget,
               CASE WHEN budget = 0 THEN NULL ELSE (actual - budget) / budget * 100 END,
               CASE WHEN account_type = 'revenue' THEN actual >= budget ELSE actual <= budget END
        FROM y""", ({}, {"period": "2026-10"}, {"period": "2026-11", "branch": "TPE"}, {"period": "2026-09"})),
    "department_performance": Truth(f"""
        WITH x AS (
            SELECT g.cost_center,
                   coalesce(sum(g.credit - g.debit) FILTER (WHERE m.account_type = 'revenue'), 0) AS revenue,
                   coalesce(sum(g.debit - g.credit) FILTER (WHERE m.account_code LIKE '5%%'), 0) AS cost,
                   coalesce(sum(g.debit - g.credit) FILTER (WHERE m.account_type = 'expense'
                                                            AND m.account_code NOT LIKE '5%%'), 0) AS opex
            FROM w600.gl_transaction g JOIN w600.gl_master m USING (account_code)
            WHERE m.account_type IN ('revenue', 'expense')
              AND g.period BETWEEN %(period_from)s AND %(period_to)s AND {_G}
            GROUP BY 1)
        SELECT x.cost_center, br.name_zh, x.revenue, x.cost, x.revenue - x.cost, x.opex,
               x.revenue - x.cost - x.opex,
               CASE WHEN x.revenue = 0 THEN NULL ELSE (x.revenue - x.cost - x.opex) / x.revenue * 100 END
        FROM x LEFT JOIN w110.branch br ON br.branch_code = x.cost_center""", _RANGES),
    "cost_analysis": Truth(f"""
        WITH x AS (
            SELECT m.account_code, m.name_zh, m.name_en,
                   CASE WHEN m.account_code LIKE '5%%' THEN 'cost_of_sales' ELSE 'operating_expense' END AS section,
                   g.cost_center, sum(g.debit) - sum(g.credit) AS amount
            FROM w600.gl_transaction g JOIN w600.gl_master m USING (account_code)
            WHERE m.account_type = 'expense' AND g.period BETWEEN %(period_from)s AND %(period_to)s AND {_G}
            GROUP BY 1, 2, 3, 4, 5)
        SELECT x.*, amount / nullif(sum(amount) OVER (), 0) * 100,
               amount / nullif(sum(amount) OVER (PARTITION BY cost_center), 0) * 100
        FROM x""", _RANGES),
    "period_summary": Truth(f"""
        WITH lines AS (
            SELECT g.period::text AS period, g.account_code, g.debit, g.credit, m.account_type
            FROM w600.gl_transaction g JOIN w600.gl_master m USING (account_code)
            WHERE g.period <= %(period_to)s AND {_G}),
        groups AS (
            SELECT CASE WHEN %(grain)s = 'year' THEN left(period, 4) ELSE period END AS p,
                   min(period) AS first_month, max(period) AS last_month
            FROM lines WHERE period >= %(period_from)s GROUP BY 1)
        SELECT p,
               CASE WHEN %(grain)s = 'year' THEN greatest(%(period_from)s, p || '-01') ELSE p END,
               CASE WHEN %(grain)s = 'year' THEN least(%(period_to)s, p || '-12') ELSE p END,
               r.revenue, r.expense, r.revenue - r.expense,
               (SELECT coalesce(sum(debit - credit), 0) FROM lines
                WHERE account_code IN ('1101', '1113') AND period <= last_month),
               (SELECT coalesce(sum(debit - credit), 0) FROM lines
                WHERE account_code = '1191' AND period <= last_month)
        FROM groups CROSS JOIN LATERAL (
            SELECT coalesce(sum(credit - debit) FILTER (WHERE account_type = 'revenue'), 0) AS revenue,
                   coalesce(sum(debit - credit) FILTER (WHERE account_type = 'expense'), 0) AS expense
            FROM lines WHERE period BETWEEN first_month AND last_month) r""",
                            ({}, {"grain": "year"}, {"period_from": "2026-10", "period_to": "2026-11", "branch": "KHH"},
                             {"grain": "year", "period_from": "2026-10", "period_to": "2027-03"})),
}
