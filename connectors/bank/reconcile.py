"""Bank reconciliation: match bank transactions to book payments (pure functions, no I/O).

A bank transaction and a book payment belong together when
- an identifier links them: the payment's 14-digit virtual account appears as a whole 14-digit number in
  the transaction (customer reference, bank reference or :86: text), or the payment's bank reference
  equals the transaction's customer or bank reference or a reference sub-field of a structured :86:
  (`/EREF/`, GVC `EREF+`, `KREF`, `MREF`, …), or appears as a whole word (>= 6 characters) in the :86:
  text (case, spaces and dashes ignored);
- the transaction is in TWD (the book's currency) and its value date is within `window_days` of the
  payment date. Transactions in any other currency are never matched: they are reported apart
  (`other_currency`), neither matched nor "missing from the book".
Equal amounts make a match; different amounts a `AmountMismatch`. Each payment and each transaction is
used at most once. Transactions are taken in (value date, account, statement, line) order and each takes
the linked payment with the nearest date (then the lowest payment_id), so the result is deterministic.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Literal

from connectors.bank.book_payments import BookPayment
from connectors.bank.statement import BankTransaction

DEFAULT_WINDOW_DAYS = 3
BOOK_CURRENCY = "TWD"
_VIRTUAL_ACCOUNT = re.compile(r"(?<!\d)\d{14}(?!\d)")
_WORD = re.compile(r"[0-9A-Z]+")
_MIN_REFERENCE_IN_TEXT = 6
# Structured :86: sub-fields that carry a reference a payer or bank gave the payment.
_REFERENCE_FIELDS = frozenset({"EREF", "KREF", "MREF", "PREF", "CREF", "IREF", "ROC", "TRID"})
LinkKind = Literal["virtual_account", "reference"]


@dataclass(frozen=True, slots=True)
class Match:
    bank: BankTransaction
    book: BookPayment
    linked_by: LinkKind
    day_difference: int  # bank value date - payment date


@dataclass(frozen=True, slots=True)
class AmountMismatch:
    bank: BankTransaction
    book: BookPayment
    linked_by: LinkKind
    day_difference: int
    difference: Decimal  # bank amount - book amount


@dataclass(frozen=True, slots=True)
class Reconciliation:
    matched: tuple[Match, ...]
    unmatched_bank: tuple[BankTransaction, ...]
    unmatched_book: tuple[BookPayment, ...]
    mismatched_amount: tuple[AmountMismatch, ...]
    other_currency: tuple[BankTransaction, ...] = ()


def _normalise(text: str) -> str:
    return re.sub(r"[\s\-]", "", text).upper()


def _virtual_accounts(tx: BankTransaction) -> set[str]:
    # :86: lines wrap at 65 characters, so a number may be cut by a line break: also search the text joined.
    texts = (tx.customer_reference, tx.bank_reference or "", tx.details, tx.details.replace("\n", ""))
    return {va for text in texts for va in _VIRTUAL_ACCOUNT.findall(text)}


def _references(tx: BankTransaction) -> tuple[set[str], set[str]]:
    """(whole references, words of the :86: text) of a transaction, normalised."""
    given = [tx.customer_reference, tx.bank_reference or ""]
    given += [value for key, value in tx.detail_fields if key in _REFERENCE_FIELDS]
    whole = {_normalise(r) for r in given if r.strip()}
    words = set(_WORD.findall(tx.details.upper())) | set(_WORD.findall(_normalise(tx.details)))
    return whole, words


def link(tx: BankTransaction, payment: BookPayment) -> LinkKind | None:
    """How the transaction and the payment are linked, or None (amounts and dates not considered)."""
    if payment.virtual_account and payment.virtual_account in _virtual_accounts(tx):
        return "virtual_account"
    if payment.bank_reference and payment.bank_reference.strip():
        reference = _normalise(payment.bank_reference)
        whole, words = _references(tx)
        if reference in whole or (len(reference) >= _MIN_REFERENCE_IN_TEXT and reference in words):
            return "reference"
    return None


def _candidates(
    tx: BankTransaction, open_payments: dict[int, BookPayment], window_days: int
) -> list[tuple[int, int, LinkKind, BookPayment]]:
    """Open payments linked to `tx` within the window, as (|days|, payment_id, link, payment), best first."""
    found: list[tuple[int, int, LinkKind, BookPayment]] = []
    for payment in open_payments.values():
        days = (tx.value_date - payment.payment_date).days
        if abs(days) > window_days:
            continue
        kind = link(tx, payment)
        if kind is not None:
            found.append((abs(days), payment.payment_id, kind, payment))
    return sorted(found, key=lambda c: (c[0], c[1]))


def _bank_order(tx: BankTransaction) -> tuple[date, str, int, int, int]:
    return (tx.value_date, tx.account, tx.statement_number.number, tx.statement_number.sequence or 0, tx.line)


def reconcile(
    bank: Iterable[BankTransaction], book: Iterable[BookPayment], *, window_days: int = DEFAULT_WINDOW_DAYS
) -> Reconciliation:
    """Split bank transactions and book payments into matched, unmatched (each side) and mismatched amounts."""
    if window_days < 0:
        raise ValueError("window_days must be >= 0")
    transactions = sorted(bank, key=_bank_order)
    open_payments = {p.payment_id: p for p in sorted(book, key=lambda p: p.payment_id)}
    matched: list[Match] = []
    leftover: list[BankTransaction] = []
    unmatched_bank: list[BankTransaction] = []
    other_currency: list[BankTransaction] = []
    for tx in transactions:
        if tx.currency != BOOK_CURRENCY:
            other_currency.append(tx)
            continue
        same_amount = [c for c in _candidates(tx, open_payments, window_days) if c[3].amount == tx.amount]
        if not same_amount:
            leftover.append(tx)
            continue
        _, payment_id, kind, payment = same_amount[0]
        del open_payments[payment_id]
        matched.append(Match(tx, payment, kind, (tx.value_date - payment.payment_date).days))
    # Second pass, after every exact match is taken, so a mismatch never steals an exact partner.
    mismatched: list[AmountMismatch] = []
    for tx in leftover:
        candidates = _candidates(tx, open_payments, window_days)
        if not candidates:
            unmatched_bank.append(tx)
            continue
        _, payment_id, kind, payment = candidates[0]
        del open_payments[payment_id]
        mismatched.append(AmountMismatch(tx, payment, kind, (tx.value_date - payment.payment_date).days,
                                         tx.amount - payment.amount))
    return Reconciliation(
        matched=tuple(matched),
        unmatched_bank=tuple(sorted(unmatched_bank, key=_bank_order)),
        unmatched_book=tuple(sorted(open_payments.values(), key=lambda p: (p.payment_date, p.payment_id))),
        mismatched_amount=tuple(mismatched),
        other_currency=tuple(other_currency),
    )


def book_date_range(bank: Sequence[BankTransaction], window_days: int = DEFAULT_WINDOW_DAYS) -> tuple[date, date]:
    """The payment dates to load so every possible partner of these transactions is included."""
    if not bank:
        raise ValueError("no bank transactions")
    dates = [tx.value_date for tx in bank]
    return min(dates) - timedelta(days=window_days), max(dates) + timedelta(days=window_days)
