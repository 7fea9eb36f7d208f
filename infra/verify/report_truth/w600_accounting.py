"""Truths of the W600 financial statements, from w600.gl_transaction, account_balance and gl_master.

The trial balance is recomputed from the period balances (w600.account_balance), not from the ledger lines the
report sums: an (account, cost centre) without a row in the period carries its latest earlier closing balance.
The statements are recomputed from the ledger lines, with cost of sales told by the account code (5xxx).
"""

from __future__ import annotations

from infra.verify.report_truth import Truth

_SCOPE = ("(%(branches)s::text[] IS NULL OR {a}.cost_center = ANY(%(branches)s)) "
          "AND (%(branch)s::text IS NULL OR {a}.cost_center = %(branch)s)")
_G, _B = _SCOPE.format(a="g"), _SCOPE.format(a="b")

TRUTHS = {
    "gl_lines": Truth(f"""
        SELECT g.txn_id, g.journal_no, g.line_no, g.posting_date, g.period, g.account_code, g.cost_center, g.debit,
               g.credit, g.source_module, g.source_ref, g.description_zh
        FROM w600.gl_transaction g
        WHERE g.account_code = %(account)s AND g.period <= %(period_to)s
          AND (%(period_from)s::text IS NULL OR g.period >= %(period_from)s) AND {_G}""",
                      ({"account": "3101"},
                       {"account": "1191", "period_from": "2026-10", "period_to": "2026-10", "branch": "TPE"},
                       {"account": "6103", "period_from": "2026-11", "period_to": "2026-11"})),
    "trial_balance": Truth(f"""
        WITH latest AS (
            SELECT DISTINCT ON (b.account_code, b.cost_center) b.account_code, b.period, b.opening_balance,
                   b.period_debit, b.period_credit, b.closing_balance
            FROM w600.account_balance b
            WHERE b.period <= %(period)s AND {_B}
            ORDER BY b.account_code, b.cost_center, b.period DESC),
        t AS (SELECT account_code,
                     sum(CASE WHEN period = %(period)s THEN opening_balance ELSE closing_balance END) AS opening,
                     sum(CASE WHEN period = %(period)s THEN period_debit ELSE 0 END) AS debit,
                     sum(CASE WHEN period = %(period)s THEN period_credit ELSE 0 END) AS credit,
                     sum(closing_balance) AS closing
              FROM latest GROUP BY account_code)
        SELECT t.account_code, m.name_zh, m.name_en, m.account_type, m.normal_balance, t.opening, t.debit, t.credit,
               t.closing, greatest(t.closing, 0), greatest(-t.closing, 0)
        FROM t JOIN w600.gl_master m USING (account_code)
        WHERE t.opening <> 0 OR t.debit <> 0 OR t.credit <> 0""",
                           ({}, {"period": "2026-10"}, {"period": "2026-11", "branch": "KHH"},
                            {"period": "2026-09"})),
    "profit_and_loss": Truth(f"""
        WITH a AS (
            SELECT CASE WHEN m.account_type = 'revenue' THEN 'revenue'
                        WHEN m.account_code LIKE '5%%' THEN 'cost_of_sales' ELSE 'operating_expense' END AS section,
                   m.account_code, m.name_zh, m.name_en,
                   sum(CASE WHEN m.account_type = 'revenue' THEN g.credit - g.debit ELSE g.debit - g.credit END)
                       AS amount
            FROM w600.gl_transaction g JOIN w600.gl_master m USING (account_code)
            WHERE m.account_type IN ('revenue', 'expense') AND g.period BETWEEN %(period_from)s AND %(period_to)s
              AND {_G}
            GROUP BY 1, 2, 3, 4),
        t AS (SELECT coalesce(sum(amount) FILTER (WHERE section = 'revenue'), 0) AS revenue,
                     coalesce(sum(amount) FILTER (WHERE section = 'cost_of_sales'), 0) AS cost,
                     coalesce(sum(amount) FILTER (WHERE section = 'operating_expense'), 0) AS opex FROM a),
        lines AS (SELECT section, account_code, name_zh, name_en, amount FROM a
                  UNION ALL SELECT 'gross_profit', NULL, '營業毛利', 'Gross profit', revenue - cost FROM t
                  UNION ALL SELECT 'net_income', NULL, '本期淨利', 'Net income', revenue - cost - opex FROM t)
        SELECT l.section, l.account_code, l.name_zh, l.name_en, l.amount,
               CASE WHEN t.revenue = 0 THEN NULL ELSE l.amount / t.revenue * 100 END
        FROM lines l CROSS JOIN t""",
                             ({}, {"period_from": "2026-10", "period_to": "2026-10"},
                              {"period_from": "2026-09", "period_to": "2026-11", "branch": "TPE"})),
    "balance_sheet": Truth(f"""
        WITH g AS (
            SELECT g.period, g.debit, g.credit, m.account_code, m.account_type, m.name_zh, m.name_en
            FROM w600.gl_transaction g JOIN w600.gl_master m USING (account_code)
            WHERE g.period <= %(period)s AND {_G}),
        lines AS (
            SELECT account_type AS section, 'account' AS line, account_code, name_zh, name_en,
                   sum(CASE WHEN account_type = 'asset' THEN debit - credit ELSE credit - debit END) AS amount
            FROM g WHERE account_type IN ('asset', 'liability', 'equity') GROUP BY 1, 2, 3, 4, 5
            UNION ALL
            SELECT 'equity', 'retained_earnings', NULL, '累積盈虧', 'Retained earnings (prior years, unclosed)',
                   coalesce(sum(credit - debit) FILTER (WHERE left(period, 4) < left(%(period)s, 4)), 0)
            FROM g WHERE account_type IN ('revenue', 'expense')
            UNION ALL
            SELECT 'equity', 'current_earnings', NULL, '本期損益', 'Current-year earnings',
                   coalesce(sum(credit - debit) FILTER (WHERE left(period, 4) = left(%(period)s, 4)), 0)
            FROM g WHERE account_type IN ('revenue', 'expense'))
        SELECT * FROM lines WHERE amount <> 0""",
                           ({}, {"period": "2026-09"}, {"period": "2026-11", "branch": "TXG"},
                            {"period": "2027-01"})),
}
