"""The ClickHouse tables the bank import lands in, defined once (like `sinks.ddl` for the streaming core).

Contract: `bank_table_defs()` describes each table; `bank_create_statements()` yields idempotent DDL for them
and the analyst views. Statement files, statements and movements are keyed by what identifies them (the
file's sha256; account, currency, statement number and opening balance; plus the line), versioned with a
constant `_version`, so a replayed Kafka record lands on the same key and changes nothing (exceptions too:
by file and time of rejection). Reconciliation runs are append-only (`MergeTree`, a run is written only when
its result differs from the newest run's); `bank_reconciliation_latest` shows the newest run's items.
Money is `Decimal(18, 3)`: every ISO 4217 currency's decimals (0 to 3) fit exactly.
"""

from __future__ import annotations

from functools import lru_cache

from sinks.ddl import VERSION_COLUMNS, TableDef

MONEY = "Decimal(18, 3)"
UTC_TIME = "DateTime64(3, 'UTC')"
_STATEMENT_KEY = (("account", "String"), ("currency", "LowCardinality(String)"), ("statement_number", "Int64"),
                  ("opening_date", "Date32"), ("opening_amount", MONEY))

BANK_STATEMENT_FILES = TableDef("bank_statement_files", (
    ("file_sha256", "String"), ("file_name", "String"), ("encoding", "LowCardinality(String)"),
    ("statements", "UInt32"), ("movements", "UInt32"), ("warnings", "UInt32"),
    ("warning_details", "Array(String)"), ("landed_at", UTC_TIME), *VERSION_COLUMNS,
), ("file_sha256",))

BANK_STATEMENTS = TableDef("bank_statements", (
    *_STATEMENT_KEY, ("statement_sequence", "Nullable(Int64)"), ("reference", "String"), ("pages", "UInt16"),
    ("closing_date", "Date32"), ("closing_amount", MONEY),
    ("available_date", "Nullable(Date32)"), ("available_amount", f"Nullable({MONEY})"),
    ("forward_available", "Array(Tuple(Date32, Decimal(18, 3)))"),
    ("movements", "UInt32"), ("credits", MONEY), ("debits", MONEY), ("information", "String"),
    ("file_sha256", "String"), ("file_name", "String"), *VERSION_COLUMNS,
), tuple(name for name, _ in _STATEMENT_KEY), "toYYYYMM(opening_date)")

BANK_MOVEMENTS = TableDef("bank_movements", (
    *_STATEMENT_KEY, ("line", "UInt32"), ("statement_sequence", "Nullable(Int64)"),
    ("value_date", "Date32"), ("entry_date", "Nullable(Date32)"), ("booking_date", "Date32"),
    ("mark", "LowCardinality(String)"), ("amount", MONEY), ("funds_code", "Nullable(String)"),
    ("type_code", "Nullable(String)"), ("customer_reference", "String"), ("bank_reference", "Nullable(String)"),
    ("supplementary", "Nullable(String)"), ("details", "String"),
    ("detail_fields", "Array(Tuple(String, String))"), ("end_to_end_reference", "Nullable(String)"),
    ("file_sha256", "String"), *VERSION_COLUMNS,
), (*(name for name, _ in _STATEMENT_KEY), "line"), "toYYYYMM(opening_date)")

BANK_IMPORT_EXCEPTIONS = TableDef("bank_import_exceptions", (
    ("recorded_at", UTC_TIME), ("file_name", "String"), ("file_sha256", "String"),
    ("reason", "LowCardinality(String)"), ("problems", "Array(String)"), ("local_copy", "Nullable(String)"),
    ("landed_at", UTC_TIME), *VERSION_COLUMNS,
), ("file_sha256", "recorded_at"))

BANK_RECONCILIATION_RUNS = TableDef("bank_reconciliation_runs", (
    ("run_id", "String"), ("ran_at", UTC_TIME), ("period_start", "Date32"), ("period_end", "Date32"),
    ("window_days", "UInt16"), ("bank_movements", "UInt32"), ("book_payments", "UInt32"),
    ("matched", "UInt32"), ("amount_mismatch", "UInt32"), ("unmatched_bank", "UInt32"),
    ("unmatched_book", "UInt32"), ("other_currency", "UInt32"), ("matched_amount", MONEY),
), ("ran_at", "run_id"), versioned=False)

BANK_RECONCILIATION_ITEMS = TableDef("bank_reconciliation_items", (
    ("run_id", "String"), ("ran_at", UTC_TIME), ("status", "LowCardinality(String)"),
    ("account", "Nullable(String)"), ("currency", "LowCardinality(String)"),
    ("statement_number", "Nullable(Int64)"), ("opening_date", "Nullable(Date32)"), ("line", "Nullable(UInt32)"),
    ("value_date", "Nullable(Date32)"), ("bank_amount", f"Nullable({MONEY})"),
    ("payment_id", "Nullable(Int64)"), ("invoice_id", "Nullable(Int64)"), ("customer_id", "Nullable(Int64)"),
    ("payment_date", "Nullable(Date32)"), ("book_amount", f"Nullable({MONEY})"),
    ("difference", f"Nullable({MONEY})"), ("linked_by", "Nullable(String)"), ("day_difference", "Nullable(Int32)"),
), ("run_id", "status"), versioned=False)


@lru_cache(maxsize=1)
def bank_table_defs() -> dict[str, TableDef]:
    defs = (BANK_STATEMENT_FILES, BANK_STATEMENTS, BANK_MOVEMENTS, BANK_IMPORT_EXCEPTIONS,
            BANK_RECONCILIATION_RUNS, BANK_RECONCILIATION_ITEMS)
    return {d.name: d for d in defs}


def bank_create_statements(database: str) -> list[str]:
    """Idempotent DDL for the bank tables, then the analyst views."""
    db = f"`{database}`"
    latest_run = f"(SELECT argMax(run_id, ran_at) FROM {db}.bank_reconciliation_runs)"
    views = [
        f"CREATE OR REPLACE VIEW {db}.v_bank_statements AS SELECT * EXCEPT (_version, _deleted) "
        f"FROM {db}.bank_statements FINAL WHERE _deleted = 0",
        f"CREATE OR REPLACE VIEW {db}.v_bank_movements AS SELECT * EXCEPT (_version, _deleted) "
        f"FROM {db}.bank_movements FINAL WHERE _deleted = 0",
        f"CREATE OR REPLACE VIEW {db}.bank_reconciliation_latest AS SELECT * "
        f"FROM {db}.bank_reconciliation_items WHERE run_id = {latest_run}",
        f"CREATE OR REPLACE VIEW {db}.bank_reconciliation_summary AS SELECT * "
        f"FROM {db}.bank_reconciliation_runs WHERE run_id = {latest_run}",
    ]
    return [d.create(database) for d in bank_table_defs().values()] + views
