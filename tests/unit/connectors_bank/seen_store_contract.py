"""The SeenStatementStore contract, run against every implementation (memory here, PostgreSQL in integration).

A subclass provides two fixtures: `store`, an empty store, and `twin`, a second handle on the same data
(the same object for the in-memory store; another instance with its own connection for PostgreSQL, as a
second importer on another machine would have).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from connectors.bank.dedup import SeenStatementStore, StatementKey, find_duplicates
from connectors.bank.errors import DuplicateStatementFile, StatementProblem
from connectors.bank.importer import read_statement_file
from connectors.bank.statement import ImportedFile
from connectors.bank.validate import StatementRules
from tests.unit.connectors_bank.mt940_samples import Line, statement, statement_file

DAY_1 = datetime(2026, 1, 14, 22, 0, tzinfo=UTC)
NEXT_DAY = statement(number="00013", opening_date="260114", closing_date="260115", opening="151000,",
                     lines=(Line(value="260115", entry="0115"),))


def imported_file(name: str, *texts: str) -> ImportedFile:
    return read_statement_file(name, statement_file(*texts).encode(), StatementRules())


def codes(problems: Sequence[StatementProblem]) -> list[tuple[int, str]]:
    return [(p.statement, p.code) for p in problems]


class SeenStatementStoreContract:
    async def test_an_empty_store_knows_nothing(self, store: SeenStatementStore) -> None:
        first = imported_file("day1.sta", statement())
        assert await store.file_seen(first.sha256) is None
        assert await store.statements_seen([]) == {}
        assert await store.statements_seen([StatementKey.of(first.statements[0])]) == {}
        assert await find_duplicates(first, store) == []

    async def test_a_recorded_file_is_known_to_every_store_on_the_data(
        self, store: SeenStatementStore, twin: SeenStatementStore
    ) -> None:
        first = imported_file("day1.sta", statement(number="00012"), statement(number="00013", account="0080000000001"))
        await store.record(first, DAY_1)
        seen = await twin.file_seen(first.sha256)
        assert seen is not None and (seen.file_name, seen.sha256, seen.imported_at) == ("day1.sta", first.sha256, DAY_1)
        keys = [StatementKey.of(s) for s in first.statements]
        found = await twin.statements_seen(keys)
        assert set(found) == set(keys) and all(v == seen for v in found.values())

    async def test_same_statement_in_a_file_of_another_day_is_a_duplicate(
        self, store: SeenStatementStore, twin: SeenStatementStore
    ) -> None:
        await store.record(imported_file("day1.sta", statement(reference="MORNING")), DAY_1)
        # Next day the bank re-sends the statement under a new :20: next to a genuinely new one.
        day2 = imported_file("day2.sta", statement(reference="RESENT"), NEXT_DAY)
        problems = await find_duplicates(day2, twin)
        assert codes(problems) == [(1, "duplicate_statement")]
        assert "day1.sta" in problems[0].detail
        with pytest.raises(DuplicateStatementFile) as caught:
            await twin.record(day2, DAY_1 + timedelta(days=1))
        assert codes(caught.value.problems) == [(1, "duplicate_statement")]

    async def test_amount_notation_does_not_matter_but_the_currency_does(self, store: SeenStatementStore) -> None:
        await store.record(imported_file("a.sta", statement(reference="A", opening="1000,")), DAY_1)
        same = imported_file("b.sta", statement(reference="B", opening="1000,00"))
        assert codes(await find_duplicates(same, store)) == [(1, "duplicate_statement")]
        in_usd = imported_file("c.sta", statement(reference="C", opening="1000,00", currency="USD"))
        assert await find_duplicates(in_usd, store) == []
        await store.record(in_usd, DAY_1)

    async def test_exact_redelivery_is_caught_by_the_file_hash(self, store: SeenStatementStore) -> None:
        text = statement()
        await store.record(imported_file("x.sta", text), DAY_1)
        again = imported_file("x-renamed.sta", text)
        assert [p.code for p in await find_duplicates(again, store)] == ["duplicate_file", "duplicate_statement"]
        with pytest.raises(DuplicateStatementFile) as caught:
            await store.record(again, DAY_1)
        assert [p.code for p in caught.value.problems] == ["duplicate_file", "duplicate_statement"]

    async def test_a_statement_twice_in_one_file_is_a_duplicate(self, store: SeenStatementStore) -> None:
        twice = imported_file("twice.sta", statement(reference="A"), statement(reference="B"))
        problems = await find_duplicates(twice, store)
        assert codes(problems) == [(2, "duplicate_statement")]
        assert "repeats statement 1" in problems[0].detail
        with pytest.raises(DuplicateStatementFile) as caught:
            await store.record(twice, DAY_1)
        assert codes(caught.value.problems) == [(2, "duplicate_statement")]
        assert await store.file_seen(twice.sha256) is None
        assert await store.statements_seen([StatementKey.of(twice.statements[0])]) == {}

    async def test_record_is_all_or_nothing(self, store: SeenStatementStore, twin: SeenStatementStore) -> None:
        await store.record(imported_file("a.sta", statement(number="00001")), DAY_1)
        mixed = imported_file("b.sta", statement(number="00002"), statement(number="00001", reference="AGAIN"))
        with pytest.raises(DuplicateStatementFile) as caught:
            await twin.record(mixed, DAY_1 + timedelta(days=1))
        assert codes(caught.value.problems) == [(2, "duplicate_statement")]
        # Neither the file nor its new statement 00002 was remembered: it imports on its own afterwards.
        assert await store.file_seen(mixed.sha256) is None
        new_key = StatementKey.of(mixed.statements[0])
        assert await store.statements_seen([new_key]) == {}
        alone = imported_file("b-fixed.sta", statement(number="00002"))
        await twin.record(alone, DAY_1 + timedelta(days=1))
        assert [s.file_name for s in (await store.statements_seen([new_key])).values()] == ["b-fixed.sta"]

    async def test_record_refuses_naive_times(self, store: SeenStatementStore) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            await store.record(imported_file("a.sta", statement()), datetime(2026, 1, 14))  # noqa: DTZ001 - the point

    async def test_concurrent_records_of_one_file_keep_one(
        self, store: SeenStatementStore, twin: SeenStatementStore
    ) -> None:
        racing = imported_file("race.sta", statement(number="00021"), statement(number="00022"))
        results = await asyncio.gather(store.record(racing, DAY_1), twin.record(racing, DAY_1),
                                       return_exceptions=True)
        assert results.count(None) == 1
        (error,) = [r for r in results if r is not None]
        assert isinstance(error, DuplicateStatementFile)
        assert [p.code for p in error.problems] == ["duplicate_file", "duplicate_statement", "duplicate_statement"]

    async def test_exclusive_keeps_every_other_holder_out(
        self, store: SeenStatementStore, twin: SeenStatementStore
    ) -> None:
        entered = asyncio.Event()

        async def second_importer() -> None:
            async with twin.exclusive():
                entered.set()

        async with store.exclusive():
            waiting = asyncio.create_task(second_importer())
            await asyncio.sleep(0.3)
            assert not entered.is_set()  # still waiting for the lock
        await asyncio.wait_for(waiting, timeout=10)
        assert entered.is_set()
        async with store.exclusive():  # released by the second holder too
            pass

    async def test_exclusive_is_released_when_the_block_raises(
        self, store: SeenStatementStore, twin: SeenStatementStore
    ) -> None:
        with pytest.raises(ConnectionError):
            async with store.exclusive():
                raise ConnectionError("publisher down")
        async with asyncio.timeout(10), twin.exclusive():
            pass

    async def test_two_importers_deliver_a_file_once(self, store: SeenStatementStore, twin: SeenStatementStore) -> None:
        the_file = imported_file("both.sta", statement(number="00031"))
        delivered: list[str] = []

        async def import_once(importer: str, seen: SeenStatementStore) -> None:
            async with seen.exclusive():
                if await find_duplicates(the_file, seen):
                    return
                await asyncio.sleep(0.05)  # delivering: the other importer must not check meanwhile
                delivered.append(importer)
                await seen.record(the_file, DAY_1)

        await asyncio.gather(import_once("a", store), import_once("b", twin))
        assert len(delivered) == 1
