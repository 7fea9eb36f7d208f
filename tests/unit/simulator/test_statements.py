"""The simulator's bank statements without a database: plain payment rows in, MT940 text out."""

from __future__ import annotations

import random
import re
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from connectors.bank.importer import read_statement_file
from connectors.bank.validate import StatementRules
from infra.simulator.identity import virtual_account
from infra.simulator.mt940_text import (
    OPENING_BALANCES,
    TWD_ACCOUNT,
    USD_ACCOUNT,
    PaymentRow,
    Statement,
    StatementLine,
    payment_fate,
    plan_days,
    read_closings,
    render_file,
    swift_amount,
    wrap_details,
)
from infra.simulator.statements import _balances_before, existing_files, statement_file_name

DAYS = [date(2026, 11, 28) + timedelta(days=n) for n in range(3)]
NAMES = ("大同瓦斯行", "陳記小吃店", "永豐食品廠股份有限公司", "林志明")


def payments(count: int, days: list[date], seed: int = 7) -> list[PaymentRow]:
    """Book payments spread over `days` (and the day before the first), every bank method."""
    rng = random.Random(seed)
    rows = []
    for payment_id in range(1, count + 1):
        day = days[0] - timedelta(days=1) + timedelta(days=rng.randrange(len(days) + 1))
        method = rng.choice(("virtual_account", "virtual_account", "bank_transfer", "check"))
        customer = rng.randrange(1, 5000)
        rows.append(PaymentRow(
            payment_id, day, Decimal(rng.randrange(1, 90_000)).quantize(Decimal("0.01")), method,
            f"TX{day:%y%m%d}{rng.randrange(10**8):08d}" if method != "check" else None,
            virtual_account(customer) if method == "virtual_account" else None, rng.choice(NAMES)))
    return rows


def test_amounts_have_a_decimal_comma_and_whole_dollars_end_with_it() -> None:
    assert swift_amount(Decimal("1234.00")) == "1234,"
    assert swift_amount(Decimal("1234.50")) == "1234,50"
    assert swift_amount(Decimal("1234.05")) == "1234,05"
    assert swift_amount(Decimal("0")) == "0,"
    assert swift_amount(Decimal("-5000000")) == "5000000,"  # the mark carries the sign


def test_details_wrap_at_65_characters_and_six_lines() -> None:
    text = "虛擬帳號 95010000012345 " + "大同瓦斯行" * 20
    lines = wrap_details(text, "/EREF/TX26112812345678")
    assert [len(line) for line in lines] == [65, 55, 22] and "".join(lines[:2]) == text
    assert wrap_details("短") == ("短",) and wrap_details("", "x") == ("x",)
    with pytest.raises(ValueError, match="6"):
        wrap_details("x" * (65 * 6 + 1))


def test_each_day_opens_with_the_previous_days_closing() -> None:
    plans = plan_days(DAYS, payments(300, DAYS), OPENING_BALANCES, seed=1)
    balances = dict(OPENING_BALANCES)
    for plan in plans:
        for statement in plan.statements:
            assert statement.opening == balances[statement.account]
            balances[statement.account] = statement.closing
    assert plans[0].statements[0].opening == Decimal("5000000.00")
    text = render_file(plans[-1].statements).decode()
    assert read_closings(text) == {s.account: s.closing for s in plans[-1].statements}


def test_the_same_rows_and_seed_give_the_same_bytes() -> None:
    rows = payments(200, DAYS)
    first = [render_file(p.statements) for p in plan_days(DAYS, rows, OPENING_BALANCES, seed=5)]
    again = [render_file(p.statements) for p in plan_days(DAYS, list(reversed(rows)), OPENING_BALANCES, seed=5)]
    assert first == again
    # A day's file does not depend on which other days are written in the same run.
    (day0,) = plan_days(DAYS[:1], rows, OPENING_BALANCES, seed=5)
    after = dict(OPENING_BALANCES) | {s.account: s.closing for s in day0.statements}
    assert [render_file(p.statements) for p in plan_days(DAYS[1:], rows, after, seed=5)] == first[1:]
    assert [render_file(p.statements) for p in plan_days(DAYS, rows, OPENING_BALANCES, seed=6)] != first


def test_fates_follow_the_documented_shares_and_the_lines_show_them() -> None:
    days = [date(2026, 10, 1) + timedelta(days=n) for n in range(20)]
    rows = payments(6000, days)
    plans = plan_days(days, rows, OPENING_BALANCES, seed=3)
    fates = sum((p.fates for p in plans), Counter[str]())
    total = sum(fates[k] for k in ("booked", "omitted", "shifted", "difference"))
    assert total == sum(1 for r in rows if days[0] <= r.payment_date <= days[-1])
    assert 0.02 < fates["omitted"] / total < 0.04 and 0.08 < fates["shifted"] / total < 0.12
    assert 0.02 < fates["difference"] / total < 0.04 and 0.01 < fates["unknown"] / total < 0.03
    by_id = {r.payment_id: r for r in rows}
    lines = [(p.day, line) for p in plans for s in p.statements for line in s.lines]
    for day, line in lines:
        if line.payment_id is None:
            continue
        payment = by_id[line.payment_id]
        fate, _ = payment_fate(payment, 3)
        assert line.kind == fate and line.value_date == line.entry_date == day
        assert day == payment.payment_date + timedelta(days=1 if fate == "shifted" else 0)
        assert payment.amount - line.amount == (0 if fate != "difference" else line_difference(payment, line))
    booked_ids = [line.payment_id for _, line in lines if line.payment_id is not None]
    assert len(booked_ids) == len(set(booked_ids))  # a payment is on the bank's statements at most once
    omitted = {r.payment_id for r in rows if payment_fate(r, 3)[0] == "omitted"}
    assert omitted and not omitted & set(booked_ids)
    fees = [line for _, line in lines if line.kind == "fee"]
    assert len(fees) == len(days) and {(f.mark, f.amount, f.type_code) for f in fees} == {("D", Decimal(120), "NCHG")}


def line_difference(payment: PaymentRow, line: StatementLine) -> Decimal:
    difference = payment.amount - line.amount
    assert difference in (15, 30)
    return difference


def test_references_and_details_per_method() -> None:
    va = PaymentRow(1, DAYS[0], Decimal("3200.00"), "virtual_account", "TX26112812345678", "95010000012345", "大同瓦斯行")
    transfer = PaymentRow(2, DAYS[0], Decimal("1500.50"), "bank_transfer", "TX26112887654321", None, "陳記小吃店")
    check = PaymentRow(3, DAYS[0], Decimal("8000.00"), "check", None, None, "林志明")
    seed = next(s for s in range(1000) if all(payment_fate(p, s)[0] == "booked" for p in (va, transfer, check)))
    (plan,) = plan_days(DAYS[:1], [va, transfer, check], OPENING_BALANCES, seed)
    text = render_file(plan.statements).decode()
    assert ":61:2611281128C3200,NTRF95010000012345//TX26112812345678\r\n:86:虛擬帳號 95010000012345 大同瓦斯行 貨款\r\n" \
           "/EREF/TX26112812345678\r\n" in text
    assert ":61:2611281128C1500,50NTRFNONREF//TX26112887654321\r\n:86:/EREF/TX26112887654321/REMI/貨款 陳記小吃店\r\n" in text
    assert re.search(r":61:2611281128C8000,NCHKCHK\d{7}\r\n:86:支票存入 林志明\r\n", text)
    assert ":61:2611281128D120,NCHGNONREF\r\n:86:跨行匯款手續費\r\n" in text


def test_the_file_is_swift_mt940_and_our_importer_accepts_it() -> None:
    plans = plan_days(DAYS, payments(400, DAYS), OPENING_BALANCES, seed=2)
    for plan in plans:
        data = render_file(plan.statements)
        text = data.decode("utf-8")
        assert "\n" not in text.replace("\r\n", "") and text.endswith("-\r\n")
        for line in text.split("\r\n")[:-1]:
            assert len(line) <= 65 + 4 or line.startswith(":61:")  # :86: lines, tag included
        assert re.findall(r"(?m)^:20:(.*)\r$", text)[0] == f"LGB{plan.day:%y%m%d}A"
        assert re.findall(r"(?m)^:28C:(.*)\r$", text)[0] == f"{plan.day.timetuple().tm_yday:05d}/00001"
        imported = read_statement_file(statement_file_name(plan.day), data, StatementRules(
            frozenset({TWD_ACCOUNT, USD_ACCOUNT}), today=DAYS[-1] + timedelta(days=1)))
        assert [(s.account, s.currency) for s in imported.statements] == [
            (s.account, "TWD" if s.account == TWD_ACCOUNT else "USD") for s in plan.statements]
        for parsed, planned in zip(imported.statements, plan.statements, strict=True):
            assert (parsed.opening.amount, parsed.closing.amount) == (planned.opening, planned.closing)
            assert [tx.amount for tx in parsed.transactions] == [line.signed for line in planned.lines]
            assert parsed.opening.on == plan.day - timedelta(days=1) and parsed.closing.on == plan.day
    assert any(len(p.statements) == 2 for p in plans)  # USD lines exist


def test_existing_files_count_in_the_inbox_and_in_the_archive(tmp_path: Path) -> None:
    inbox, archive = tmp_path / "inbox", tmp_path / "archive"
    inbox.mkdir()
    archive.mkdir()
    statement = Statement(TWD_ACCOUNT, DAYS[0], Decimal("5000000.00"), (
        StatementLine(DAYS[0], DAYS[0], "D", Decimal(120), "NCHG", "NONREF", None, ("fee",), "fee"),))
    (archive / f"20261129T060000_0123456789ab_{statement_file_name(DAYS[0])}").write_bytes(render_file([statement]))
    (inbox / statement_file_name(DAYS[1])).write_bytes(b"")
    (inbox / f"x_{statement_file_name(DAYS[2])}").write_bytes(b"")  # not our name in the inbox
    (inbox / ".LGB_20261130.tmp").write_bytes(b"")
    found = existing_files(inbox, [archive])
    assert sorted(found) == DAYS[:2]
    balances = _balances_before(DAYS[1], {DAYS[0]: found[DAYS[0]]})
    assert balances == {TWD_ACCOUNT: Decimal("4999880.00"), USD_ACCOUNT: Decimal("25000.00")}
