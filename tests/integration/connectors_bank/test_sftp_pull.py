"""End to end against a real SFTP server: pinned host key, stable files only, import or reject, archive."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import asyncssh
import pytest

from connectors.bank.dedup import PostgresSeenStatementStore
from connectors.bank.errors import BankSftpError, HostKeyRejected, RejectReason
from connectors.bank.pull import PullJob, build_importer, pull_statements
from connectors.bank.schedule import DailyJobRunner
from connectors.bank.statement import ImportedFile
from infra.clock import FixedClock
from tests.integration.connectors_bank.conftest import BankCase, SftpServer, make_settings, memory_importer
from tests.unit.connectors_bank.mt940_samples import (
    OTHER_ACCOUNT,
    TWO_STATEMENTS_CRLF,
    Line,
    statement,
    statement_file,
    without_tag,
)

pytestmark = pytest.mark.integration

# 2026-01-14 22:00 UTC = 2026-01-15 06:00 in Taipei: the morning after the statements' day.
MORNING = datetime(2026, 1, 14, 22, 0, tzinfo=UTC)


def _only(directory: Path) -> list[Path]:
    return sorted(directory.iterdir()) if directory.exists() else []


def _original_names(directory: Path) -> list[str]:
    """The bank's own names of the files archived in `directory` (archive names: <time>_<sha12>_<name>)."""
    return sorted(p.name.split("_", 2)[2] for p in _only(directory))


def _read_text(path: str) -> str:
    return Path(path).read_text(encoding="utf-8")


def _local_copies(case: BankCase) -> list[Path]:
    return sorted(p for p in (case.local_dir / "archive").rglob("*") if p.is_file())


async def test_pulls_multi_statement_utf8_and_big5_files_and_archives_them(bank_case: BankCase) -> None:
    utf8 = statement_file(
        statement(reference="U1", number="00101", lines=(Line(amount="3200,", details="台北市 王小明 瓦斯費"),)),
        statement(reference="U2", account=OTHER_ACCOUNT, number="00055", lines=(Line(amount="45,", mark="D"),)),
    ).encode("utf-8")
    big5 = TWO_STATEMENTS_CRLF.encode("big5")
    (bank_case.inbox / "TWB_20260114_1.sta").write_bytes(utf8)
    (bank_case.inbox / "TWB_20260114_2.sta").write_bytes(big5)
    delivered: list[ImportedFile] = []

    async def deliver(imported: ImportedFile) -> None:
        delivered.append(imported)

    importer = memory_importer(bank_case.settings, FixedClock(MORNING), deliver)
    report = await pull_statements(bank_case.settings, importer)

    assert [f.file_name for f in report.imported] == ["TWB_20260114_1.sta", "TWB_20260114_2.sta"]
    assert delivered == report.imported and report.rejected == [] and report.left_in_inbox == []
    first, second = report.imported
    assert (first.encoding, second.encoding) == ("utf-8", "big5")
    assert [len(f.statements) for f in report.imported] == [2, 2]
    assert first.statements[0].transactions[0].details == "台北市 王小明 瓦斯費"
    assert second.statements[0].transactions[0].details == "大同瓦斯行 虛擬帳號 12345678901234 一月貨款"
    assert second.statements[1].closing.amount == Decimal("2000.50")
    # Archived on the server (inbox empty) and kept locally, byte for byte.
    assert _only(bank_case.inbox) == []
    assert _original_names(bank_case.archive) == ["TWB_20260114_1.sta", "TWB_20260114_2.sta"]
    assert all(p.name.startswith("20260115T060000_") for p in _only(bank_case.archive))
    remote_path = report.archived_to["TWB_20260114_1.sta"]
    assert (bank_case.archive / Path(remote_path).name).read_bytes() == utf8
    local = _local_copies(bank_case)
    assert sorted(p.read_bytes() for p in local) == sorted([utf8, big5])
    assert all(p.parent.name == "2026-01-15" for p in local)
    assert importer.exceptions.read_all() == []


async def test_bad_files_are_rejected_whole_recorded_and_moved_aside(bank_case: BankCase) -> None:
    good = statement(reference="GOOD", number="00001")
    files = {
        "a_missing_tag.sta": statement_file(
            good.replace("00001", "00002"), without_tag(statement(number="3"), ":60F:")
        ),
        "b_bad_date.sta": statement(number="00004", lines=(Line(value="260230"),)),
        "c_unbalanced.sta": statement(number="00005", closing="1,"),
        "d_good.sta": good,
    }
    for name, text in files.items():
        (bank_case.inbox / name).write_text(text, encoding="utf-8")
    importer = memory_importer(bank_case.settings, FixedClock(MORNING))
    report = await pull_statements(bank_case.settings, importer)

    assert [(r.file_name, r.reason) for r in report.rejected] == [
        ("a_missing_tag.sta", RejectReason.MALFORMED),
        ("b_bad_date.sta", RejectReason.MALFORMED),
        ("c_unbalanced.sta", RejectReason.UNBALANCED),
    ]
    assert [f.file_name for f in report.imported] == ["d_good.sta"]
    # Nothing of a rejected file was imported: its good first statement is not in the seen-store.
    assert [s.reference for f in report.imported for s in f.statements] == ["GOOD"]
    records = importer.exceptions.read_all()
    assert [(r.file_name, r.reason) for r in records] == [(r.file_name, r.reason) for r in report.rejected]
    assert [(p.statement, p.code) for p in records[0].problems] == [(2, "missing_tag")]
    assert [(p.statement, p.code) for p in records[1].problems] == [(1, "bad_date")]
    for record in records:
        assert record.local_copy is not None
        assert _read_text(record.local_copy) == files[record.file_name]
    assert _original_names(bank_case.rejected) == [
        "a_missing_tag.sta", "b_bad_date.sta", "c_unbalanced.sta"
    ]
    assert _original_names(bank_case.archive) == ["d_good.sta"]
    assert _only(bank_case.inbox) == []


async def test_a_statement_resent_on_another_day_rejects_that_file(bank_case: BankCase) -> None:
    clock = FixedClock(MORNING)
    importer = memory_importer(bank_case.settings, clock)
    (bank_case.inbox / "20260114.sta").write_text(statement(reference="DAY1"), encoding="utf-8")
    assert len((await pull_statements(bank_case.settings, importer)).imported) == 1

    clock.advance(timedelta(days=1))
    new = statement(reference="NEW", number="00013", opening="151000,", opening_date="260114",
                    closing_date="260115", lines=(Line(value="260115", entry="0115"),))
    (bank_case.inbox / "20260115.sta").write_text(statement_file(new, statement(reference="RESENT")), "utf-8")
    (bank_case.inbox / "20260115-copy.sta").write_text(statement(reference="DAY1"), encoding="utf-8")
    report = await pull_statements(bank_case.settings, importer)

    assert report.imported == []
    assert [(r.file_name, r.reason) for r in report.rejected] == [
        ("20260115-copy.sta", RejectReason.DUPLICATE), ("20260115.sta", RejectReason.DUPLICATE)
    ]
    copy_codes = [p.code for p in report.rejected[0].problems]
    assert copy_codes == ["duplicate_file", "duplicate_statement"]  # same bytes as yesterday's file
    assert [(p.statement, p.code) for p in report.rejected[1].problems] == [(2, "duplicate_statement")]
    assert all(r.recorded_at == MORNING + timedelta(days=1) for r in importer.exceptions.read_all())


async def test_a_growing_file_is_left_until_it_is_stable(bank_case: BankCase) -> None:
    growing = bank_case.inbox / "growing.sta"
    text = statement(reference="SLOW")
    growing.write_text(text[:40], encoding="utf-8")
    (bank_case.inbox / "empty.sta").write_bytes(b"")
    (bank_case.inbox / "ready.sta").write_text(statement(reference="READY", number="00099"), encoding="utf-8")

    async def bank_still_writing(seconds: float) -> None:
        # The bank appends more while we wait between the two looks.
        with growing.open("a", encoding="utf-8") as fh:
            fh.write(text[40:80])
        await asyncio.sleep(seconds)

    importer = memory_importer(bank_case.settings, FixedClock(MORNING))
    report = await pull_statements(bank_case.settings, importer, sleep=bank_still_writing)
    assert [f.file_name for f in report.imported] == ["ready.sta"]
    assert report.left_in_inbox == ["empty.sta", "growing.sta"]
    assert sorted(p.name for p in _only(bank_case.inbox)) == ["empty.sta", "growing.sta"]
    assert importer.exceptions.read_all() == [] and len(_local_copies(bank_case)) == 1

    growing.write_text(text, encoding="utf-8")  # the bank finished writing
    (bank_case.inbox / "empty.sta").unlink()
    report = await pull_statements(bank_case.settings, importer)
    assert [f.statements[0].reference for f in report.imported] == ["SLOW"]
    assert _only(bank_case.inbox) == []


async def test_a_server_with_another_host_key_is_refused(bank_case: BankCase, sftp_server: SftpServer) -> None:
    (bank_case.inbox / "x.sta").write_text(statement(), encoding="utf-8")
    impostor_key = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    settings = bank_case.settings.model_copy(update={"host_key": impostor_key})
    with pytest.raises(HostKeyRejected, match="other than the pinned one"):
        await pull_statements(settings, memory_importer(settings, FixedClock(MORNING)))
    assert [p.name for p in _only(bank_case.inbox)] == ["x.sta"]  # nothing fetched or moved
    assert _local_copies(bank_case) == []


async def test_the_pin_may_be_a_known_hosts_line_in_a_file(bank_case: BankCase, sftp_server: SftpServer) -> None:
    known_hosts = bank_case.local_dir / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{sftp_server.port} {sftp_server.host_key_line}\n", encoding="utf-8")
    case = bank_case.settings.remote_inbox_dir.split("/")[1]
    settings = make_settings(sftp_server, case, bank_case.local_dir, host_key=None, host_key_path=known_hosts)
    (bank_case.inbox / "k.sta").write_text(statement(), encoding="utf-8")
    report = await pull_statements(settings, memory_importer(settings, FixedClock(MORNING)))
    assert [f.file_name for f in report.imported] == ["k.sta"]


async def test_an_unknown_client_key_is_refused(bank_case: BankCase, tmp_path: Path) -> None:
    stranger = tmp_path / "stranger_ed25519"
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(stranger)
    settings = bank_case.settings.model_copy(update={"private_key_path": stranger})
    with pytest.raises(BankSftpError, match="cannot log in") as caught:
        await pull_statements(settings, memory_importer(settings, FixedClock(MORNING)))
    assert not isinstance(caught.value, HostKeyRejected)


async def test_on_demand_run_of_the_daily_pull(bank_case: BankCase) -> None:
    (bank_case.inbox / "now.sta").write_text(statement(reference="ONDEMAND"), encoding="utf-8")
    clock = FixedClock(MORNING + timedelta(hours=3))  # 09:00 in Taipei: the 06:00 run is long past
    job = PullJob(bank_case.settings, memory_importer(bank_case.settings, clock))
    runner = DailyJobRunner(job, clock, at=bank_case.settings.run_at)
    task = asyncio.create_task(runner.run_forever())
    runner.request_run()
    for _ in range(200):
        if runner.completed_runs or runner.failed_runs:
            break
        await asyncio.sleep(0.025)
    runner.stop()
    await asyncio.wait_for(task, timeout=5)
    assert (runner.completed_runs, runner.last_trigger) == (1, "on_demand")
    assert job.last_report is not None
    assert [s.reference for f in job.last_report.imported for s in f.statements] == ["ONDEMAND"]
    assert job.last_report.imported[0].statements[0].closing.on == date(2026, 1, 14)


async def test_a_failed_archive_move_never_leads_to_a_double_import(bank_case: BankCase) -> None:
    (bank_case.inbox / "once.sta").write_text(statement(reference="ONCE"), encoding="utf-8")
    blocker = bank_case.archive
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("a file where the archive directory should be", encoding="utf-8")
    importer = memory_importer(bank_case.settings, FixedClock(MORNING))
    with pytest.raises(BankSftpError, match="SFTP session"):
        await pull_statements(bank_case.settings, importer)
    assert [p.name for p in _only(bank_case.inbox)] == ["once.sta"]  # imported and remembered, not moved

    blocker.unlink()
    report = await pull_statements(bank_case.settings, importer)
    assert report.imported == []
    assert [(r.file_name, r.reason) for r in report.rejected] == [("once.sta", RejectReason.DUPLICATE)]
    assert _only(bank_case.inbox) == [] and _original_names(bank_case.rejected) == ["once.sta"]


def test_the_importer_keeps_its_seen_statements_in_the_store_it_is_given(bank_case: BankCase) -> None:
    dsn = "host=db.example port=5432 dbname=luckygas user=luckygas"  # nothing connects until the first import
    importer = build_importer(bank_case.settings, FixedClock(MORNING), PostgresSeenStatementStore(dsn))
    store = importer.store
    assert isinstance(store, PostgresSeenStatementStore) and (store.dsn, store.schema) == (dsn, "bank_import")
    assert importer.known_accounts == bank_case.settings.known_accounts
