"""W600 account management rows (general ledger)."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel

from schemas.types import ROW_CONFIG, PgDate, PgTimestamp


class GlMaster(BaseModel):
    """w600.gl_master: the chart of accounts."""

    model_config = ROW_CONFIG
    account_code: str
    name_zh: str
    name_en: str
    account_type: Literal["asset", "liability", "equity", "revenue", "expense"]
    normal_balance: Literal["debit", "credit"]
    parent_code: str | None
    is_postable: bool
    created_at: PgTimestamp
    updated_at: PgTimestamp


class GlTransaction(BaseModel):
    """w600.gl_transaction: one journal line (debit xor credit)."""

    model_config = ROW_CONFIG
    txn_id: int
    journal_no: str
    line_no: int
    account_code: str
    posting_date: PgDate
    period: str
    debit: Decimal
    credit: Decimal
    cost_center: str | None
    source_module: Literal["W200", "W300", "W500", "W600", "W700"]
    source_ref: str | None
    description_zh: str
    posted_by: int | None
    created_at: PgTimestamp
    updated_at: PgTimestamp


class AccountBalance(BaseModel):
    """w600.account_balance: per account, period and cost centre, with the budget."""

    model_config = ROW_CONFIG
    balance_id: int
    account_code: str
    period: str
    cost_center: str
    opening_balance: Decimal
    period_debit: Decimal
    period_credit: Decimal
    closing_balance: Decimal
    budget_amount: Decimal
    is_closed: bool
    created_at: PgTimestamp
    updated_at: PgTimestamp
