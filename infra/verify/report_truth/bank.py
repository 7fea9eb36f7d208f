"""Truths of the bank reports, from the statement files themselves, the import's seen-store and the book.

The bank tables live only in ClickHouse, so their truth is rebuilt from the evidence they came from:
- the statement files: every file the import pulled keeps a local copy under `bank.local_archive_dir`
  (imported and rejected alike), read here with the project's MT940 reader
  (`connectors.bank.importer.read_statement_file`, without the import's date and account rules): this checks the
  landing (Kafka, the Faust agent, the keys and FINAL views), not the parser;
- which files were accepted: PostgreSQL's seen-store `bank_import.seen_file` (the import records a file there
  only after delivering it);
- the book: `w500.payment_record` and `w100.customer_master`.
The parsed statements and lines go into the truth SQL as two JSON literals (`jsonb_to_recordset`) and are
filtered there by the seen-store. The reconciliation is recomputed in SQL from its documented rules
(`connectors.bank.reconcile`: two greedy passes as recursive CTEs, after tests/integration/bank's truth) over
the statements closing in the newest `bank.reconcile_days` days, with book payments within
`bank.reconcile_window_days`, as the landing agent runs it; so it equals the newest run while PostgreSQL's
payments have not changed since that run (the agent re-runs every `bank.reconcile_every_s`).
`TRUTHS` is built on first access (the files are read then, not at import).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from connectors.bank.errors import StatementFileRejected
from connectors.bank.importer import read_statement_file
from connectors.bank.statement import ImportedFile
from connectors.bank.validate import StatementRules
from infra.settings import StackSettings, get_settings
from infra.verify.report_truth import Truth

REFERENCE_FIELDS = ("EREF", "KREF", "MREF", "PREF", "CREF", "IREF", "ROC", "TRID")
ACCOUNT, USD_ACCOUNT = "0081234567890", "0087000111222"  # the simulator's TWD collection and USD accounts


def accepted_candidates(archive: Path) -> list[ImportedFile]:
    """Every readable statement file under `archive`, once per content (sha256)."""
    found: dict[str, ImportedFile] = {}
    for path in sorted(archive.rglob("*")) if archive.is_dir() else []:
        if not path.is_file():
            continue
        try:
            imported = read_statement_file(path.name, path.read_bytes(), StatementRules())
        except StatementFileRejected:
            continue
        found.setdefault(imported.sha256, imported)
    return list(found.values())


def _rows(files: list[ImportedFile]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    statements, lines = [], []
    for f in files:
        for s in f.statements:
            key = {"sha": f.sha256, "account": s.account, "currency": s.currency, "number": s.number.number,
                   "opening_date": s.opening.on.isoformat(), "opening_amount": str(s.opening.amount)}
            statements.append({**key, "closing_date": s.closing.on.isoformat(),
                               "closing_amount": str(s.closing.amount)})
            lines += [{**key, "seq": t.statement_number.sequence, "line": t.line,
                       "value_date": t.value_date.isoformat(),
                       "entry_date": t.entry_date.isoformat() if t.entry_date else None,
                       "booking_date": t.booking_date.isoformat(), "mark": t.mark, "amount": str(t.amount),
                       "type_code": t.type_code, "customer_reference": t.customer_reference,
                       "bank_reference": t.bank_reference, "details": t.details,
                       "refs": [v for k, v in t.detail_fields if k in REFERENCE_FIELDS]} for t in s.transactions]
    return statements, lines


def _jsonb(rows: list[dict[str, Any]]) -> str:
    """A jsonb literal for SQL run with psycopg parameters (quotes doubled, % escaped)."""
    text = json.dumps(rows, ensure_ascii=True, separators=(",", ":"))
    return "'" + text.replace("'", "''").replace("%", "%%") + "'::jsonb"


_KEY = "sha, account, currency, number, opening_date, opening_amount"
_NORM = "upper(regexp_replace({x}, '[[:space:]-]', '', 'g'))"
_VA = ("(b.virtual_account IS NOT NULL AND strpos(l.txt, b.virtual_account) > 0 "
       "AND l.txt ~ ('(^|[^0-9])' || b.virtual_account || '([^0-9]|$)'))")
_WORD = "(strpos(l.{x}, b.ref) > 0 AND l.{x} ~ ('(^|[^0-9A-Z])' || b.ref || '([^0-9A-Z]|$)'))"


def _base(statements: str, lines: str) -> str:
    return f"""
    seen AS (SELECT sha256 FROM bank_import.seen_file),
    st AS (SELECT * FROM jsonb_to_recordset({statements}) AS t(sha text, account text, currency text, number bigint,
                opening_date date, opening_amount numeric, closing_date date, closing_amount numeric)
           WHERE sha IN (SELECT sha256 FROM seen)),
    mv AS (SELECT * FROM jsonb_to_recordset({lines}) AS t(sha text, account text, currency text, number bigint,
                opening_date date, opening_amount numeric, seq bigint, line int, value_date date, entry_date date,
                booking_date date, mark text, amount numeric, type_code text, customer_reference text,
                bank_reference text, details text, refs text[])
           WHERE sha IN (SELECT sha256 FROM seen))"""


def _reconciliation(days: int, window: int) -> str:
    """CTEs `run` (period) and `items` (the newest reconciliation's items) after `_base`."""
    return f""",
    run AS (SELECT max(closing_date) - {days - 1} AS period_start, max(closing_date) AS period_end FROM st),
    inrun AS (SELECT m.* FROM mv m JOIN st s USING ({_KEY}) CROSS JOIN run
              WHERE s.closing_date BETWEEN run.period_start AND run.period_end),
    tw AS (SELECT row_number() OVER (ORDER BY value_date, account, number, coalesce(seq, 0), line) AS rn, *,
                  concat_ws(' ', customer_reference, bank_reference, details, replace(details, E'\\n', '')) AS txt,
                  upper(details) AS up, {_NORM.format(x='details')} AS nd,
                  {_NORM.format(x='customer_reference')} AS ncr,
                  {_NORM.format(x="coalesce(bank_reference, '')")} AS nbr,
                  ARRAY(SELECT {_NORM.format(x='r')} FROM unnest(refs) AS r) AS nrefs
           FROM inrun WHERE currency = 'TWD'),
    book AS (SELECT p.payment_id, p.invoice_id, p.customer_id, p.payment_date, p.amount, p.virtual_account,
                    {_NORM.format(x='p.bank_reference')} AS ref
             FROM w500.payment_record p CROSS JOIN run
             WHERE p.payment_date BETWEEN run.period_start - {window} AND run.period_end + {window}
               AND p.method IN ('bank_transfer', 'check', 'virtual_account') AND p.status IN ('received', 'cleared')),
    cand AS (SELECT l.rn, b.payment_id, abs(l.value_date - b.payment_date) AS days, l.amount = b.amount AS same_amount,
                    CASE WHEN {_VA} THEN 'virtual_account' ELSE 'reference' END AS linked_by
             FROM tw l JOIN book b ON b.payment_date BETWEEN l.value_date - {window} AND l.value_date + {window}
             WHERE {_VA} OR (coalesce(b.ref, '') <> '' AND (b.ref IN (l.ncr, l.nbr) OR b.ref = ANY(l.nrefs)
                   OR (length(b.ref) >= 6 AND ({_WORD.format(x='up')} OR {_WORD.format(x='nd')}))))),
    exact(rn, used, pick) AS (
        SELECT 0::bigint, ARRAY[]::bigint[], NULL::bigint
        UNION ALL
        SELECT e.rn + 1, CASE WHEN x.pick IS NULL THEN e.used ELSE e.used || x.pick END, x.pick
        FROM exact e, LATERAL (SELECT (SELECT c.payment_id FROM cand c WHERE c.rn = e.rn + 1 AND c.same_amount
                                       AND NOT c.payment_id = ANY(e.used) ORDER BY c.days, c.payment_id LIMIT 1)
                               AS pick) x
        WHERE e.rn < (SELECT count(*) FROM tw)),
    leftover AS (SELECT row_number() OVER (ORDER BY e.rn) AS rn2, e.rn FROM exact e WHERE e.rn > 0 AND e.pick IS NULL),
    second(rn2, used, pick) AS (
        SELECT 0::bigint, (SELECT used FROM exact ORDER BY rn DESC LIMIT 1), NULL::bigint
        UNION ALL
        SELECT s.rn2 + 1, CASE WHEN x.pick IS NULL THEN s.used ELSE s.used || x.pick END, x.pick
        FROM second s, LATERAL (SELECT (SELECT c.payment_id FROM cand c JOIN leftover o ON o.rn = c.rn
                                        WHERE o.rn2 = s.rn2 + 1 AND NOT c.payment_id = ANY(s.used)
                                        ORDER BY c.days, c.payment_id LIMIT 1) AS pick) x
        WHERE s.rn2 < (SELECT count(*) FROM leftover)),
    picks AS (SELECT 'matched' AS status, rn, pick FROM exact WHERE rn > 0 AND pick IS NOT NULL
              UNION ALL
              SELECT CASE WHEN s.pick IS NULL THEN 'unmatched_bank' ELSE 'amount_mismatch' END, o.rn, s.pick
              FROM second s JOIN leftover o ON o.rn2 = s.rn2 WHERE s.rn2 > 0),
    items AS (
        SELECT k.status, l.account, l.currency, l.number AS statement_number, l.opening_date, l.line, l.value_date,
               l.amount AS bank_amount, b.payment_id, b.invoice_id, b.customer_id, b.payment_date,
               b.amount AS book_amount, l.amount - b.amount AS difference, c.linked_by,
               l.value_date - b.payment_date AS day_difference, l.customer_reference
        FROM picks k JOIN tw l ON l.rn = k.rn LEFT JOIN book b ON b.payment_id = k.pick
        LEFT JOIN cand c ON c.rn = k.rn AND c.payment_id = k.pick
        UNION ALL
        SELECT 'other_currency', account, currency, number, opening_date, line, value_date, amount, NULL, NULL, NULL,
               NULL, NULL, NULL, NULL, NULL, customer_reference FROM inrun WHERE currency <> 'TWD'
        UNION ALL
        SELECT 'unmatched_book', NULL, 'TWD', NULL, NULL, NULL, NULL, NULL, b.payment_id, b.invoice_id, b.customer_id,
               b.payment_date, b.amount, NULL, NULL, NULL, NULL
        FROM book b CROSS JOIN run WHERE b.payment_date BETWEEN run.period_start AND run.period_end
          AND b.payment_id NOT IN (SELECT pick FROM picks WHERE pick IS NOT NULL))"""


def _account(column: str) -> str:
    return f"(%(account)s::text IS NULL OR {column} = %(account)s)"


def build(files: list[ImportedFile], days: int, window: int) -> dict[str, Truth]:
    """The bank truths over `files` (filtered by the seen-store in SQL) and the reconciliation settings."""
    statements, lines = _rows(files)
    base = "WITH RECURSIVE " + _base(_jsonb(statements), _jsonb(lines))
    recon = base + _reconciliation(days, window)
    return {
        "bank_reconciliation": Truth(f"""{recon}
            SELECT run.period_start, run.period_end, i.account, i.currency, i.statement_number, i.opening_date,
                   i.status, count(*), sum(i.bank_amount), sum(i.book_amount), sum(i.difference)
            FROM items i CROSS JOIN run WHERE {_account('i.account')}
            GROUP BY 1, 2, 3, 4, 5, 6, 7""", ({}, {"account": ACCOUNT})),
        "bank_reconciliation_items": Truth(f"""{recon}
            SELECT status, account, currency, statement_number, opening_date, line, value_date, bank_amount,
                   payment_id, invoice_id, customer_id, payment_date, book_amount, difference, linked_by,
                   day_difference
            FROM items WHERE {_account('account')}
              AND (%(statement_number)s::bigint IS NULL OR statement_number = %(statement_number)s)
              AND (%(status)s = 'all' OR status = %(status)s)""",
                                           ({}, {"status": "unmatched_book"},
                                            {"account": ACCOUNT, "status": "matched"})),
        "bank_collections": Truth(f"""{recon}
            SELECT i.value_date, i.account, i.statement_number, i.line, i.bank_amount, i.customer_reference,
                   i.customer_id, c.customer_code, c.name_zh, i.payment_id, i.invoice_id, i.payment_date,
                   i.book_amount, i.difference, i.status, i.linked_by, i.day_difference
            FROM items i LEFT JOIN w100.customer_master c ON c.customer_id = i.customer_id
            WHERE i.status IN ('matched', 'amount_mismatch') AND i.value_date BETWEEN %(date_from)s AND %(date_to)s
              AND (%(linked_by)s = 'all' OR i.linked_by = %(linked_by)s)""",
                                  ({}, {"linked_by": "all"}, {"linked_by": "reference"})),
        "cash_flow": Truth(f"""{base},
            sums AS (SELECT {_KEY}, count(*) AS n, coalesce(sum(amount) FILTER (WHERE amount > 0), 0) AS credits,
                            coalesce(-sum(amount) FILTER (WHERE amount < 0), 0) AS debits FROM mv GROUP BY {_KEY})
            SELECT s.closing_date, s.account, s.currency, count(*),
                   (array_agg(s.opening_amount ORDER BY s.opening_date, s.number))[1],
                   sum(coalesce(x.credits, 0)), sum(coalesce(x.debits, 0)),
                   (array_agg(s.closing_amount ORDER BY s.opening_date DESC, s.number DESC))[1], sum(coalesce(x.n, 0))
            FROM st s LEFT JOIN sums x USING (sha, account, currency, number, opening_date, opening_amount)
            WHERE s.closing_date BETWEEN %(date_from)s AND %(date_to)s AND {_account('s.account')}
            GROUP BY 1, 2, 3""", ({}, {"account": USD_ACCOUNT})),
        "bank_statement_lines": Truth(f"""{base}
            SELECT m.account, m.currency, m.number, m.opening_date, m.line, m.value_date, m.entry_date, m.booking_date,
                   m.mark, m.amount, m.type_code, m.customer_reference, m.bank_reference, m.details
            FROM mv m JOIN st s USING ({_KEY})
            WHERE m.account = %(account)s AND s.closing_date = %(day)s""",
                                      ({"account": ACCOUNT}, {"account": USD_ACCOUNT})),
    }


def truths_for(settings: StackSettings) -> dict[str, Truth]:
    """The bank truths of the stack `settings` describes (its archive of statement files, its windows)."""
    bank = settings.bank
    return build(accepted_candidates(bank.local_archive_dir), bank.reconcile_days, bank.reconcile_window_days)


@lru_cache(maxsize=1)
def _truths() -> dict[str, Truth]:
    return truths_for(get_settings())


def __getattr__(name: str) -> dict[str, Truth]:
    if name == "TRUTHS":
        return _truths()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
