"""Book payments: rows of `w500.payment_record` and a loader for a date range.

`load_book_payments` runs one SELECT on a psycopg (v3) connection the caller owns (it neither commits
nor closes it) and returns `BookPayment`s ordered by (payment_date, payment_id). By default it loads only
payments that can appear on a bank statement (bank transfers, checks, virtual-account payments) and are
still valid (received or cleared).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal, cast

import psycopg

PaymentMethod = Literal["cash", "bank_transfer", "check", "credit_card", "virtual_account"]
PaymentStatus = Literal["received", "cleared", "bounced", "reversed"]
PAYMENT_METHODS: tuple[PaymentMethod, ...] = ("cash", "bank_transfer", "check", "credit_card", "virtual_account")
PAYMENT_STATUSES: tuple[PaymentStatus, ...] = ("received", "cleared", "bounced", "reversed")
BANK_METHODS: tuple[PaymentMethod, ...] = ("bank_transfer", "check", "virtual_account")
OPEN_STATUSES: tuple[PaymentStatus, ...] = ("received", "cleared")


@dataclass(frozen=True, slots=True)
class BookPayment:
    """One `w500.payment_record` row (amount in TWD)."""

    payment_id: int
    invoice_id: int
    customer_id: int
    payment_date: date
    received_at: datetime
    amount: Decimal
    method: PaymentMethod
    bank_reference: str | None
    virtual_account: str | None  # 14 digits
    status: PaymentStatus
    created_at: datetime
    updated_at: datetime

    def __post_init__(self) -> None:
        if self.method not in PAYMENT_METHODS:
            raise ValueError(f"payment {self.payment_id}: unknown method {self.method!r}")
        if self.status not in PAYMENT_STATUSES:
            raise ValueError(f"payment {self.payment_id}: unknown status {self.status!r}")
        if self.virtual_account is not None and not (
            len(self.virtual_account) == 14 and self.virtual_account.isdigit()
        ):
            raise ValueError(f"payment {self.payment_id}: virtual account {self.virtual_account!r} is not 14 digits")


_COLUMNS = (
    "payment_id, invoice_id, customer_id, payment_date, received_at, amount, method, "
    "bank_reference, virtual_account, status, created_at, updated_at"
)
# Only values are parameters; the column list is a constant.
PAYMENTS_SQL = (
    f"SELECT {_COLUMNS} FROM w500.payment_record "
    "WHERE payment_date BETWEEN %(start)s AND %(end)s "
    "AND method = ANY(%(methods)s) AND status = ANY(%(statuses)s) "
    "ORDER BY payment_date, payment_id"
)


def _payment(row: Sequence[Any]) -> BookPayment:
    virtual_account = row[8].strip() if row[8] is not None else None
    return BookPayment(
        payment_id=int(row[0]),
        invoice_id=int(row[1]),
        customer_id=int(row[2]),
        payment_date=row[3],
        received_at=row[4],
        amount=Decimal(row[5]),
        method=cast(PaymentMethod, row[6]),
        bank_reference=row[7],
        virtual_account=virtual_account or None,
        status=cast(PaymentStatus, row[9]),
        created_at=row[10],
        updated_at=row[11],
    )


def load_book_payments(
    conn: psycopg.Connection[Any],
    start: date,
    end: date,
    *,
    methods: Sequence[PaymentMethod] = BANK_METHODS,
    statuses: Sequence[PaymentStatus] = OPEN_STATUSES,
) -> list[BookPayment]:
    """Payments dated `start`..`end` (inclusive) with the given methods and statuses."""
    if start > end:
        raise ValueError(f"empty date range {start}..{end}")
    with conn.cursor() as cur:
        cur.execute(PAYMENTS_SQL, {"start": start, "end": end, "methods": list(methods), "statuses": list(statuses)})
        return [_payment(row) for row in cur.fetchall()]
