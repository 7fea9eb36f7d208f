"""The bank import as part of the running stack: the simulator's statements on the local SFTP server, pulled
by the import service, published to Kafka, landed in ClickHouse by the landing agent, and reconciled against
PostgreSQL's payments exactly as SQL written apart computes it."""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import signal
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest
from clickhouse_connect.driver.client import Client

from connectors.bank.settings import sftp_root_dir
from infra.clickhouse.runner import get_client
from infra.settings import StackSettings
from streams.topics import bank_statement_files_topic_name
from tests.integration.bank.reconciliation_truth import truth_items
from tests.integration.kafka_helpers import dead_letter, produce
from tests.integration.waiting import wait_for
from tests.unit.connectors_bank.mt940_samples import Line, statement

pytestmark = pytest.mark.integration


def _status(path: Path) -> dict[str, Any]:
    return dict(orjson.loads(path.read_bytes())) if path.exists() else {}


@pytest.fixture(scope="module")
def clickhouse(stack: StackSettings) -> Iterator[Client]:
    client = get_client(stack)
    try:
        yield client
    finally:
        client.close()


def _rows(client: Client, sql: str, **parameters: Any) -> list[dict[str, Any]]:
    result = client.query(sql, parameters=parameters)
    return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]


def _archived(stack: StackSettings) -> list[Path]:
    archive = sftp_root_dir(stack.state_dir) / "archive"
    return sorted(archive.iterdir()) if archive.exists() else []


@pytest.fixture(scope="module")
def landed(stack: StackSettings, clickhouse: Client) -> list[Path]:
    """The statement files the scheduled (catch-up) pull imported, once all of them have landed."""
    inbox = sftp_root_dir(stack.state_dir) / "inbox"
    wait_for("the inbox to be emptied", lambda: not any(inbox.glob("*.sta")) or None)
    files = _archived(stack)
    assert len(files) == stack.bank.local_statement_days, "one statement file per day should have been pulled"
    wait_for("every file to land", lambda: _status(stack.bank_landing_status_file).get("files", 0) >= len(files))
    return files


def test_every_statement_and_movement_of_the_pulled_files_lands_in_clickhouse(
    stack: StackSettings, clickhouse: Client, landed: list[Path]
) -> None:
    texts = [p.read_text(encoding="utf-8") for p in landed]
    lines = sum(len(re.findall(r"(?m)^:61:", t)) for t in texts)
    statements = sum(len(re.findall(r"(?m)^:20:", t)) for t in texts)
    usd = sum(len(re.findall(r"(?m)^:60F:[CD]\d{6}USD", t)) for t in texts)
    assert lines > 30 and statements == len(landed) + usd and usd > 0  # TWD every day, USD on days it moved
    counts = _rows(clickhouse, "SELECT (SELECT count() FROM v_bank_movements) AS movements, "
                               "(SELECT count() FROM v_bank_statements) AS statements, "
                               "(SELECT count() FROM bank_statement_files FINAL) AS files")[0]
    assert counts == {"movements": lines, "statements": statements, "files": len(landed)}
    closings = {m.group(1) for t in texts for m in re.finditer(r"(?m)^:62F:C(\d{6})TWD", t)}
    landed_closings = _rows(clickhouse, "SELECT closing_date FROM v_bank_statements WHERE currency = 'TWD'")
    assert {r["closing_date"].strftime("%y%m%d") for r in landed_closings} == closings
    # The balance chain holds in what landed: each day opens with the previous day's closing.
    chain = _rows(clickhouse, "SELECT opening_amount, closing_amount, credits, debits FROM v_bank_statements "
                              "WHERE currency = 'TWD' ORDER BY closing_date")
    for row in chain:
        assert row["opening_amount"] + row["credits"] - row["debits"] == row["closing_amount"]
    for before, after in itertools.pairwise(chain):
        assert after["opening_amount"] == before["closing_amount"]


def _our_items(client: Client) -> tuple[dict[str, Any], set[tuple[Any, ...]]]:
    summary = _rows(client, "SELECT * FROM bank_reconciliation_summary")
    items = _rows(client, "SELECT status, account, statement_number, line, payment_id FROM bank_reconciliation_latest")
    return (summary[0] if summary else {}), {tuple(i.values()) for i in items}


def _pull_now(stack: StackSettings) -> None:
    """Ask the running import for a pull (SIGUSR1, as `make bank-pull` does) and wait until it is done."""
    status = _status(stack.bank_importer_status_file)
    os.kill(int(status["pid"]), signal.SIGUSR1)
    wait_for("the on-demand pull", lambda: _status(stack.bank_importer_status_file)["completed_runs"]
              > status["completed_runs"])


def _late_statement_short_by_a_charge(stack: StackSettings, payment_id: int) -> bytes:
    """A statement of another of our accounts, arriving late, that shows a book payment 15 TWD short."""
    with psycopg.connect(stack.postgres.dsn()) as conn:
        paid, amount, virtual_account = conn.execute(
            "SELECT payment_date, amount, virtual_account FROM w500.payment_record WHERE payment_id = %s",
            (payment_id,)).fetchone()  # type: ignore[misc]
    credited = f"{amount - 15:.2f}".replace(".", ",")
    return statement(reference="LATE1", account="0081234567891", number="00001/001",
                     opening_date=f"{paid - timedelta(days=1):%y%m%d}", closing_date=f"{paid:%y%m%d}",
                     lines=(Line(amount=credited, value=f"{paid:%y%m%d}", entry=f"{paid:%m%d}",
                                 reference=virtual_account, details=f"虛擬帳號 {virtual_account} 扣手續費"),)
                     ).encode() + b"-\n"


def test_the_reconciliation_equals_sql_over_postgresql_payments_and_the_statements(
    stack: StackSettings, clickhouse: Client, landed: list[Path]
) -> None:
    def equal_to_truth() -> tuple[dict[str, Any], set[tuple[Any, ...]]] | None:
        summary, ours = _our_items(clickhouse)
        if not summary:
            return None
        movements = _rows(clickhouse, "SELECT * FROM v_bank_movements WHERE (account, currency, statement_number, "
                                      "opening_date, opening_amount) IN (SELECT account, currency, statement_number, "
                                      "opening_date, opening_amount FROM v_bank_statements WHERE closing_date "
                                      "BETWEEN {s:Date32} AND {e:Date32})",
                          s=summary["period_start"], e=summary["period_end"])
        with psycopg.connect(stack.postgres.dsn()) as conn:
            truth = truth_items(conn, movements, summary["period_start"], summary["period_end"],
                                summary["window_days"])
        return (summary, ours) if ours == truth else None

    # A run reads PostgreSQL when it runs and the truth a moment later: equal once no payment changed between.
    _, first = wait_for("a reconciliation run equal to the SQL truth", equal_to_truth, timeout=90)
    # A statement arriving late shows a virtual-account payment the bank had not shown yet, short by a charge.
    with psycopg.connect(stack.postgres.dsn()) as conn:
        waiting = {row[0] for row in conn.execute("SELECT payment_id FROM w500.payment_record "
                                                  "WHERE virtual_account IS NOT NULL")}
    payment_id = min(i[4] for i in first if i[0] == "unmatched_book" and i[4] in waiting)
    inbox = sftp_root_dir(stack.state_dir) / "inbox"
    (inbox / ".LATE.part").write_bytes(_late_statement_short_by_a_charge(stack, payment_id))
    (inbox / ".LATE.part").rename(inbox / "LGB_LATE.sta")
    _pull_now(stack)

    def with_the_late_statement() -> tuple[dict[str, Any], set[tuple[Any, ...]]] | None:
        found = equal_to_truth()
        return found if found and ("amount_mismatch", "0081234567891", 1, 1, payment_id) in found[1] else None

    summary, ours = wait_for("the late statement's reconciliation", with_the_late_statement, timeout=90)
    by_status = {s: sum(1 for i in ours if i[0] == s) for s in
                 ("matched", "amount_mismatch", "unmatched_bank", "unmatched_book", "other_currency")}
    # The simulator's statements hold matches, unknown deposits and bank fees, payments not on any statement
    # and a USD account: every outcome occurs, and the summary row counts the items it has.
    assert all(by_status.values()), by_status
    assert {s: summary[s] for s in by_status} == by_status
    difference = _rows(clickhouse, "SELECT difference FROM bank_reconciliation_latest WHERE payment_id = {p:Int64}",
                       p=payment_id)
    assert difference == [{"difference": -15}]


def _unbalanced_file() -> bytes:
    good = statement(reference="GOOD1", number="00901/001", lines=(Line(amount="1000,"),))
    bad = statement(reference="BAD2", number="00902/001", lines=(Line(amount="1000,"),), closing="1,")
    return (good + "-\n" + bad + "-\n").encode()


def test_a_broken_file_is_rejected_whole_moved_aside_and_lands_as_an_exception(
    stack: StackSettings, clickhouse: Client, landed: list[Path]
) -> None:
    root = sftp_root_dir(stack.state_dir)
    (root / "inbox" / ".LGB_BROKEN.part").write_bytes(_unbalanced_file())
    (root / "inbox" / ".LGB_BROKEN.part").rename(root / "inbox" / "LGB_BROKEN.sta")
    _pull_now(stack)
    rejected = wait_for("the rejection to land", lambda: _rows(
        clickhouse, "SELECT * FROM bank_import_exceptions FINAL WHERE file_name = 'LGB_BROKEN.sta'"))
    assert rejected[0]["reason"] == "unbalanced"
    assert any("statement 2: unbalanced" in p for p in rejected[0]["problems"])
    assert [p.name.split("_", 2)[2] for p in (root / "rejected").iterdir()] == ["LGB_BROKEN.sta"]
    # Nothing of the file was imported, not even its good first statement.
    assert _rows(clickhouse, "SELECT count() AS n FROM v_bank_statements WHERE reference IN ('GOOD1', 'BAD2')") == [
        {"n": 0}]


def test_a_malformed_statement_record_is_dead_lettered_and_landing_goes_on(
    stack: StackSettings, landed: list[Path]
) -> None:
    topic = bank_statement_files_topic_name(stack.kafka.topic_prefix)
    before = _status(stack.bank_landing_status_file)
    offset = asyncio.run(produce(stack, topic, b'{"file_name": "x.sta"}'))
    _, headers = asyncio.run(dead_letter(stack, f"{topic}:0:{offset}".encode()))
    assert headers["source-topic"] == topic.encode() and headers["source-offset"] == str(offset).encode()
    assert headers["reason"].startswith(b"KeyError") or b"Error" in headers["reason"]
    after = wait_for("the landing agent to count it", lambda: (
        s if (s := _status(stack.bank_landing_status_file))["dead_lettered"] > before["dead_lettered"] else None))
    assert after["files"] == before["files"]
