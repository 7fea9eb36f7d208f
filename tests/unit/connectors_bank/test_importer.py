"""The importer: all-or-nothing per file, rejections recorded, hand-off before remembering."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.bank.dedup import MemorySeenStatementStore, StatementKey
from connectors.bank.errors import (
    DuplicateStatementFile,
    InvalidStatementFile,
    MalformedStatementFile,
    RejectReason,
    UnbalancedStatementFile,
)
from connectors.bank.exceptions_log import JsonlExceptionLog
from connectors.bank.importer import StatementImporter, file_sha256
from connectors.bank.statement import ImportedFile
from infra.clock import FixedClock
from tests.unit.connectors_bank.mt940_samples import TWO_STATEMENTS_CRLF, Line, statement, statement_file, without_tag

# 2026-01-14 22:00 UTC = 2026-01-15 06:00 Asia/Taipei, the daily pull.
PULL_TIME = datetime(2026, 1, 14, 22, 0, tzinfo=UTC)


class Collector:
    """A hand-off target that keeps what it gets (or fails, to test the retry path)."""

    def __init__(self) -> None:
        self.files: list[ImportedFile] = []
        self.fail = False

    async def __call__(self, imported: ImportedFile) -> None:
        if self.fail:
            raise ConnectionError("publisher down")
        self.files.append(imported)


Parts = tuple[StatementImporter, MemorySeenStatementStore, JsonlExceptionLog, Collector]


@pytest.fixture
def parts(tmp_path: Path) -> Parts:
    store = MemorySeenStatementStore()
    log = JsonlExceptionLog(tmp_path / "exceptions.jsonl")
    collector = Collector()
    importer = StatementImporter(store, log, FixedClock(PULL_TIME), deliver=collector)
    return importer, store, log, collector


async def test_a_good_file_is_delivered_then_remembered(parts: Parts) -> None:
    importer, store, log, collector = parts
    data = TWO_STATEMENTS_CRLF.encode("big5")
    imported = await importer.import_file("twb.sta", data)
    assert collector.files == [imported]
    assert await store.file_seen(file_sha256(data)) is not None
    assert log.read_all() == []


async def test_a_malformed_file_is_rejected_whole_and_recorded(parts: Parts, tmp_path: Path) -> None:
    importer, store, log, collector = parts
    good = statement(reference="GOOD", number="00001")
    bad = without_tag(statement(reference="BAD", number="00002"), ":28C:")
    data = statement_file(good, bad).encode()
    local = tmp_path / "copy.sta"
    with pytest.raises(MalformedStatementFile):
        await importer.import_file("mixed.sta", data, local_copy=local)
    assert collector.files == [] and await store.file_seen(file_sha256(data)) is None
    (record,) = log.read_all()
    assert (record.file_name, record.reason, record.local_copy) == ("mixed.sta", RejectReason.MALFORMED, str(local))
    assert [(p.statement, p.code) for p in record.problems] == [(2, "missing_tag")]
    assert record.recorded_at == PULL_TIME and record.sha256 == file_sha256(data)
    # Nothing of the rejected file was taken: its good statement imports on its own afterwards.
    alone = await importer.import_file("good.sta", good.encode())
    assert [s.reference for s in alone.statements] == ["GOOD"] and collector.files == [alone]


async def test_an_unbalanced_file_is_recorded_with_its_reason(parts: Parts) -> None:
    importer, _, log, _ = parts
    with pytest.raises(UnbalancedStatementFile):
        await importer.import_file("u.sta", statement(closing="1,").encode())
    assert [r.reason for r in log.read_all()] == [RejectReason.UNBALANCED]


async def test_a_failed_hand_off_remembers_nothing_so_the_file_is_retried(parts: Parts) -> None:
    importer, store, log, collector = parts
    data = statement().encode()
    collector.fail = True
    with pytest.raises(ConnectionError):
        await importer.import_file("x.sta", data)
    assert await store.file_seen(file_sha256(data)) is None and log.read_all() == []
    collector.fail = False
    await importer.import_file("x.sta", data)
    assert len(collector.files) == 1


async def test_a_statement_resent_the_next_day_is_a_duplicate(tmp_path: Path) -> None:
    clock = FixedClock(PULL_TIME)
    store = MemorySeenStatementStore()
    log = JsonlExceptionLog(tmp_path / "exceptions.jsonl")
    importer = StatementImporter(store, log, clock)
    await importer.import_file("0114.sta", statement(reference="DAY1").encode())
    clock.advance(timedelta(days=1))
    new = statement(number="00013", opening_date="260114", closing_date="260115", opening="151000,",
                    lines=(Line(value="260115", entry="0115"),))
    with pytest.raises(DuplicateStatementFile) as caught:
        await importer.import_file("0115.sta", statement_file(new, statement(reference="DAY2")).encode())
    assert [(p.statement, p.code) for p in caught.value.problems] == [(2, "duplicate_statement")]
    (record,) = log.read_all()
    assert record.reason is RejectReason.DUPLICATE and record.recorded_at == PULL_TIME + timedelta(days=1)
    new_key = StatementKey.of((await importer.import_file("0115-fixed.sta", new.encode())).statements[0])
    # The new statement of the rejected file was not taken with it: it imported on its own just now.
    (seen,) = (await store.statements_seen([new_key])).values()
    assert seen.file_name == "0115-fixed.sta"


async def test_known_accounts_and_today_come_from_the_importer(tmp_path: Path) -> None:
    importer = StatementImporter(
        MemorySeenStatementStore(), JsonlExceptionLog(tmp_path / "e.jsonl"),
        FixedClock(datetime(2026, 1, 14, 1, 0, tzinfo=UTC)), known_accounts=frozenset({"0080000000000"}),
    )
    with pytest.raises(InvalidStatementFile) as caught:
        await importer.import_file("f.sta", statement(closing_date="260115").encode())
    codes = {p.code for p in caught.value.problems}
    assert codes == {"unknown_account", "future_statement"}


async def test_two_importers_on_one_store_deliver_a_file_once(tmp_path: Path) -> None:
    store = MemorySeenStatementStore()
    delivered: list[str] = []

    def importer(name: str) -> StatementImporter:
        async def slow_deliver(imported: ImportedFile) -> None:
            await asyncio.sleep(0.05)  # the other importer must not check the store meanwhile
            delivered.append(name)

        return StatementImporter(store, JsonlExceptionLog(tmp_path / f"{name}.jsonl"), FixedClock(PULL_TIME),
                                 deliver=slow_deliver)

    data = statement().encode()
    results = await asyncio.gather(importer("a").import_file("x.sta", data), importer("b").import_file("x.sta", data),
                                   return_exceptions=True)
    assert len(delivered) == 1
    assert sorted(type(r).__name__ for r in results) == ["DuplicateStatementFile", "ImportedFile"]
