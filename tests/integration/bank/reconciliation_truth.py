"""The bank reconciliation recomputed in SQL on PostgreSQL, written apart from `connectors.bank.reconcile`.

From the reconciliation's rules (its module docstring), not its code: bank lines are taken in (value date,
account, statement number, sequence, line) order; each TWD line first takes the linked, still unused book
payment of the SAME amount whose date is nearest (then the lowest payment id); lines left without one then,
in the same order, take the nearest linked unused payment of any amount (an amount mismatch); the rest are
unmatched. Linked = the payment's 14-digit virtual account appears as a whole number in the line's
references or details (also with the details' line breaks removed), or its bank reference equals a
reference of the line (customer, bank, structured :86: reference fields) or appears as a whole word of at
least 6 characters in the details; case, spaces and dashes ignored. Both greedy passes are recursive CTEs
carrying the array of payments used so far.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import psycopg

REFERENCE_FIELDS = ("EREF", "KREF", "MREF", "PREF", "CREF", "IREF", "ROC", "TRID")

_LOAD = """
CREATE TEMP TABLE truth_bank_line (
    account text, currency text, statement_number bigint, seq bigint, line int, value_date date,
    amount numeric, customer_reference text, bank_reference text, details text, refs text[]
) ON COMMIT DROP
"""

_NORM = "upper(regexp_replace({x}, '[[:space:]-]', '', 'g'))"

_TRUTH = f"""
WITH RECURSIVE
lines AS (
    SELECT row_number() OVER (ORDER BY value_date, account, statement_number, coalesce(seq, 0), line) AS rn, *
    FROM truth_bank_line WHERE currency = 'TWD'
),
book AS (
    SELECT payment_id, payment_date, amount, virtual_account, bank_reference, {_NORM.format(x='bank_reference')} AS ref
    FROM w500.payment_record
    WHERE payment_date BETWEEN %(book_start)s AND %(book_end)s
      AND method IN ('bank_transfer', 'check', 'virtual_account') AND status IN ('received', 'cleared')
),
cand AS (
    SELECT l.rn, b.payment_id, abs(l.value_date - b.payment_date) AS days, l.amount = b.amount AS same_amount,
           CASE WHEN b.virtual_account IS NOT NULL AND (
                     concat_ws(' ', l.customer_reference, l.bank_reference, l.details,
                               replace(l.details, E'\\n', '')) ~ ('(^|[^0-9])' || b.virtual_account || '([^0-9]|$)'))
                THEN 'virtual_account' ELSE 'reference' END AS linked_by
    FROM lines l JOIN book b ON abs(l.value_date - b.payment_date) <= %(window)s
    WHERE (b.virtual_account IS NOT NULL AND
           concat_ws(' ', l.customer_reference, l.bank_reference, l.details, replace(l.details, E'\\n', ''))
           ~ ('(^|[^0-9])' || b.virtual_account || '([^0-9]|$)'))
       OR (coalesce(b.ref, '') <> '' AND (
              b.ref IN ({_NORM.format(x='l.customer_reference')}, {_NORM.format(x="coalesce(l.bank_reference, '')")})
              OR b.ref IN (SELECT {_NORM.format(x='r')} FROM unnest(l.refs) AS r)
              OR (length(b.ref) >= 6 AND (upper(l.details) ~ ('(^|[^0-9A-Z])' || b.ref || '([^0-9A-Z]|$)')
                  OR {_NORM.format(x='l.details')} ~ ('(^|[^0-9A-Z])' || b.ref || '([^0-9A-Z]|$)')))))
),
exact(rn, used, pick) AS (
    SELECT 0::bigint, ARRAY[]::bigint[], NULL::bigint
    UNION ALL
    SELECT e.rn + 1, CASE WHEN x.pick IS NULL THEN e.used ELSE e.used || x.pick END, x.pick
    FROM exact e, LATERAL (SELECT (SELECT c.payment_id FROM cand c
                                   WHERE c.rn = e.rn + 1 AND c.same_amount AND NOT c.payment_id = ANY(e.used)
                                   ORDER BY c.days, c.payment_id LIMIT 1) AS pick) x
    WHERE e.rn < (SELECT count(*) FROM lines)
),
leftover AS (
    SELECT row_number() OVER (ORDER BY e.rn) AS rn2, e.rn FROM exact e WHERE e.rn > 0 AND e.pick IS NULL
),
second(rn2, used, pick) AS (
    SELECT 0::bigint, (SELECT used FROM exact ORDER BY rn DESC LIMIT 1), NULL::bigint
    UNION ALL
    SELECT s.rn2 + 1, CASE WHEN x.pick IS NULL THEN s.used ELSE s.used || x.pick END, x.pick
    FROM second s, LATERAL (SELECT (SELECT c.payment_id FROM cand c JOIN leftover o ON o.rn = c.rn
                                    WHERE o.rn2 = s.rn2 + 1 AND NOT c.payment_id = ANY(s.used)
                                    ORDER BY c.days, c.payment_id LIMIT 1) AS pick) x
    WHERE s.rn2 < (SELECT count(*) FROM leftover)
),
bank_side AS (
    SELECT 'matched' AS status, l.account, l.statement_number, l.line, e.pick AS payment_id
    FROM exact e JOIN lines l ON l.rn = e.rn WHERE e.pick IS NOT NULL
    UNION ALL
    SELECT CASE WHEN s.pick IS NULL THEN 'unmatched_bank' ELSE 'amount_mismatch' END, l.account,
           l.statement_number, l.line, s.pick
    FROM second s JOIN leftover o ON o.rn2 = s.rn2 JOIN lines l ON l.rn = o.rn WHERE s.rn2 > 0
    UNION ALL
    SELECT 'other_currency', account, statement_number, line, NULL FROM truth_bank_line WHERE currency <> 'TWD'
)
SELECT status, account, statement_number, line, payment_id FROM bank_side
UNION ALL
SELECT 'unmatched_book', NULL, NULL, NULL, b.payment_id FROM book b
WHERE b.payment_date BETWEEN %(start)s AND %(end)s
  AND b.payment_id NOT IN (SELECT payment_id FROM bank_side WHERE payment_id IS NOT NULL)
"""

Item = tuple[str, str | None, int | None, int | None, int | None]


def truth_items(conn: psycopg.Connection[Any], movements: Sequence[dict[str, Any]], start: date, end: date,
                window: int) -> set[Item]:
    """(status, account, statement number, line, payment id) of every reconciliation item, from SQL over
    PostgreSQL's payments and the given bank movements (rows of ClickHouse's `v_bank_movements`)."""
    with conn.transaction():
        conn.execute(_LOAD)
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO truth_bank_line VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [(m["account"], m["currency"], m["statement_number"], m["statement_sequence"], m["line"],
                  m["value_date"], Decimal(m["amount"]), m["customer_reference"], m["bank_reference"], m["details"],
                  [v for k, v in m["detail_fields"] if k in REFERENCE_FIELDS]) for m in movements])
        rows = conn.execute(_TRUTH, {"start": start, "end": end, "window": window,
                                     "book_start": start - timedelta(days=window),
                                     "book_end": end + timedelta(days=window)}).fetchall()
    return {(r[0], r[1], r[2], r[3], r[4]) for r in rows}
