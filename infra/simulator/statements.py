"""The bank's side of the simulator's payments: one MT940 statement file per day, as our bank would send.

    python -m infra.simulator statements --days N --out DIR [--seed S] [--end YYYY-MM-DD] [--also-in DIR ...]

`write_statements` reads `w500.payment_record` (+ payer names from `w100.customer_master`) and writes, for
each of the `days` Asia/Taipei calendar days ending at `end` (default: yesterday in Taipei, by
`infra.clock`), the file `out/LGB_<YYYYMMDD>.sta`:
- UTF-8, CRLF line ends, written atomically (a temp name `.LGB_<YYYYMMDD>.tmp`, which matches neither
  `LGB_*.sta` nor `*.sta`, then a rename), deterministic: the same database and seed give the same bytes;
- a day whose file already exists is skipped (idempotent): in `out`, or in one of the `archived` dirs
  under its own name or as `<anything>_LGB_<YYYYMMDD>.sta` (the importer's archive names), so files the
  importer has moved away are not written again;
- fields strictly per the SWIFT MT940 rules: :20: `LGB<YYMMDD><A|U>` (16x), :25: account, :28C: day of
  year `/1` as 5n/5n (`00335/00001`), :60F: opening on the previous day, :61:
  `YYMMDD MMDD C|D amount type reference[//bank reference]` (value date, entry date = the day), :86: at most
  6 lines of 65 characters, :62F: and :64: the closing balance on the day, a "-" line after each statement;
  amounts with a decimal comma (`1234,` or `1234,50`).

Two of our accounts:
- TWD collection account `0081234567890`, opening 5,000,000.00 on the first day ever written (later days,
  and later runs, open with the previous day's closing, read back from its file when it exists). One credit
  per book payment with method bank_transfer, virtual_account or check and status received or cleared,
  dated that day, except (by a random source seeded per payment): ~3% omitted (in the book only), ~10%
  value-dated the next day (they are in the next day's file; the last day's such lines are in no file),
  ~3% short by a bank charge (amount - 15 or - 30). Plus ~2% extra unknown deposits (a random 14-digit
  virtual account that is no customer's, NONREF) and one bank-fee debit per day (NCHG, 120 TWD).
  References: virtual_account -> customer reference its virtual account, bank reference `//` + the
  payment's bank_reference (when <= 16 characters), :86: `虛擬帳號 <va> <name> 貨款` and `/EREF/<bank_reference>`;
  bank_transfer -> NONREF, `//<bank_reference>`, :86: `/EREF/<bank_reference>/REMI/貨款 <name>`; check ->
  NCHK, customer reference `CHK` + 7 digits, :86: `支票存入 <name>` (checks carry no book reference: they stay
  unmatched on both sides, as in real life).
- USD account `0087000111222`, opening 25,000.00: 0-2 supplier payments a day (NTRF, `IMP` + digits, :86:
  `進口鋼瓶貨款`), and a top-up credit of 20,000.00 (`FX` + digits, `購匯轉入 外幣備付金`) on a day that would
  end below 5,000.00; a day without movement has no USD statement (our importer wants at least one :61:).
  These lines are not TWD, so they must never be reconciled against the book's payments.
The text itself is made by the pure `infra.simulator.mt940_text` from plain rows.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg

from infra.clock import SystemClock, business_day
from infra.simulator.mt940_text import (
    BANK_METHODS,
    OPENING_BALANCES,
    PaymentRow,
    plan_day,
    read_closings,
    render_file,
)

OPEN_STATUSES = ("received", "cleared")
_FILE_NAME = re.compile(r"(?:^|_)LGB_(?P<day>\d{8})\.sta$")
PAYMENTS_SQL = (
    "SELECT p.payment_id, p.payment_date, p.amount, p.method, p.bank_reference, p.virtual_account, "
    "COALESCE(c.company_name_zh, c.name_zh, '') FROM w500.payment_record p "
    "LEFT JOIN w100.customer_master c USING (customer_id) "
    "WHERE p.payment_date BETWEEN %s AND %s AND p.method = ANY(%s) AND p.status = ANY(%s) "
    "ORDER BY p.payment_date, p.payment_id"
)


def statement_file_name(day: date) -> str:
    return f"LGB_{day:%Y%m%d}.sta"


@dataclass
class StatementsReport:
    """What one run wrote: files, skipped days, and how the book's payments of the written days fared."""

    written: list[Path] = field(default_factory=list)
    skipped: list[date] = field(default_factory=list)
    statements: int = 0
    fates: Counter[str] = field(default_factory=Counter)  # booked / omitted / shifted / difference / unknown
    lines: Counter[str] = field(default_factory=Counter)  # :61: lines by kind

    def summary(self) -> dict[str, Any]:
        payments = sum(self.fates[k] for k in ("booked", "omitted", "shifted", "difference"))
        return {"mode": "statements", "written": [p.name for p in self.written],
                "skipped": [d.isoformat() for d in self.skipped], "statements": self.statements,
                "payments": payments, "fates": dict(self.fates), "lines": sum(self.lines.values()),
                "lines_by_kind": dict(self.lines)}


def load_payments(conn: psycopg.Connection[Any], start: date, end: date) -> list[PaymentRow]:
    """The book's bank payments dated `start`..`end` that are still valid, with the payers' names."""
    rows = conn.execute(PAYMENTS_SQL, (start, end, list(BANK_METHODS), list(OPEN_STATUSES))).fetchall()
    return [
        PaymentRow(int(r[0]), r[1], Decimal(r[2]), str(r[3]), r[4], r[5].strip() if r[5] else None, str(r[6]))
        for r in rows
    ]


def existing_files(out: Path, archived: Sequence[Path] = ()) -> dict[date, Path]:
    """Day -> a statement file already written for it (in `out`, or moved to one of `archived`)."""
    found: dict[date, Path] = {}
    for directory in (*archived, out):  # `out` last: its copy wins
        if not directory.is_dir():
            continue
        for path in sorted(directory.iterdir()):
            match = _FILE_NAME.search(path.name)
            if match and path.is_file() and (directory != out or path.name == statement_file_name(_day(match))):
                found[_day(match)] = path
    return found


def _day(match: re.Match[str]) -> date:
    text = match.group("day")
    return date(int(text[:4]), int(text[4:6]), int(text[6:]))


def _balances_before(first: date, existing: dict[date, Path]) -> dict[str, Decimal]:
    """The accounts' balances at the end of the last written day before `first` (opening balances for an
    account that has no statement yet)."""
    balances: dict[str, Decimal] = {}
    for day in sorted((d for d in existing if d < first), reverse=True):
        for account, closing in read_closings(existing[day].read_text(encoding="utf-8")).items():
            balances.setdefault(account, closing)
    return {account: balances.get(account, opening) for account, opening in OPENING_BALANCES.items()}


def _write_atomically(path: Path, data: bytes) -> None:
    temp = path.with_name(f".{path.stem}.tmp")
    with temp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    temp.replace(path)


def write_statement_files(
    dsn: str, out: Path, days: int, seed: int, end: date | None, *, archived: Sequence[Path] = ()
) -> StatementsReport:
    """Write the missing days' files (see the module contract) and report what was written."""
    if days <= 0:
        raise ValueError("days must be > 0")
    last = end or business_day(SystemClock().now()) - timedelta(days=1)
    wanted = [last - timedelta(days=n) for n in reversed(range(days))]
    out.mkdir(parents=True, exist_ok=True)
    existing = existing_files(out, archived)
    report = StatementsReport()
    if all(day in existing for day in wanted):
        report.skipped.extend(wanted)
        return report
    with psycopg.connect(dsn) as conn:
        payments = load_payments(conn, wanted[0] - timedelta(days=1), last)
    balances = _balances_before(wanted[0], existing)
    for day in wanted:
        if day in existing:
            balances.update(read_closings(existing[day].read_text(encoding="utf-8")))
            report.skipped.append(day)
            continue
        plan = plan_day(day, payments, balances, seed)
        path = out / statement_file_name(day)
        _write_atomically(path, render_file(plan.statements))
        balances.update({s.account: s.closing for s in plan.statements})
        report.written.append(path)
        report.statements += len(plan.statements)
        report.fates.update(plan.fates)
        report.lines.update(line.kind for s in plan.statements for line in s.lines)
    return report


def write_statements(
    dsn: str, out: Path, days: int, seed: int, end: date | None, *, archived: Sequence[Path] = ()
) -> list[Path]:
    """The files written (missing days only), oldest first; see the module contract."""
    return write_statement_files(dsn, out, days, seed, end, archived=archived).written
