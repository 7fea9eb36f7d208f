"""The audit chain without a store: canonical form, normalisation, and the verifier naming the first broken
record for every kind of tampering (altered field, rewritten hash, removed, reordered, cut-off prefix)."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from api.access.audit_chain import (
    GENESIS,
    Anchor,
    AuditEvent,
    canonical,
    chain_hash,
    link,
    normalise,
    purge_event,
    retention_cutoff,
    verify_chain,
)

T0 = datetime(2026, 1, 15, 2, 0, tzinfo=UTC)


def events(n: int) -> list[AuditEvent]:
    return [AuditEvent(at=T0 + timedelta(seconds=i), kind="data_access", principal=f"emp:{1000 + i}",
                       route="GET /kpis/today", parameters={"i": i}, rows=i, status=200) for i in range(n)]


def test_an_intact_chain_verifies_and_reports_its_head() -> None:
    records = link(0, GENESIS, events(5))
    result = verify_chain(records)
    assert result.ok and result.checked == 5
    assert (result.head_seq, result.head_hash) == (5, records[-1].hash)
    assert [r.seq for r in records] == [1, 2, 3, 4, 5]
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(records))


def test_the_hash_covers_the_previous_hash_and_every_field() -> None:
    event = normalise(events(1)[0])
    base = chain_hash(GENESIS, 1, event)
    assert chain_hash("1" * 64, 1, event) != base
    assert chain_hash(GENESIS, 2, event) != base
    for change in ({"rows": 1}, {"principal": "emp:2"}, {"parameters": {"i": 1}}, {"status": 403},
                   {"at": T0 + timedelta(microseconds=1)}, {"detail": "x"}, {"branch_filter": "all branches"}):
        assert chain_hash(GENESIS, 1, replace(event, **change)) != base, change


def test_canonical_form_is_compact_sorted_utf8_json() -> None:
    event = normalise(AuditEvent(at=datetime(2026, 1, 15, 10, 0, tzinfo=timezone(timedelta(hours=8))),
                                 kind="export", principal="emp:7", detail="台北市大安區"))
    text = canonical(3, event).decode("utf-8")
    assert text.startswith('{"at":"2026-01-15T02:00:00.000000Z","branch_filter":null,')
    assert "台北市大安區" in text and " " not in text.replace("台北市大安區", "")
    assert json.loads(text)["seq"] == 3


@pytest.mark.parametrize("tamper, name", [
    (lambda rs: rs.__setitem__(2, replace(rs[2], event=replace(rs[2].event, rows=999))), "altered field"),
    (lambda rs: rs.__setitem__(2, replace(rs[2], hash="f" * 64)), "rewritten hash"),
])
def test_an_altered_record_is_named(tamper: object, name: str) -> None:
    records = link(0, GENESIS, events(6))
    tamper(records)  # type: ignore[operator]
    result = verify_chain(records)
    assert not result.ok, name
    assert result.broken_seq == 3
    assert "seq=3" in (result.reason or "")


def test_a_consistently_rehashed_record_breaks_the_link_to_the_next() -> None:
    records = link(0, GENESIS, events(6))
    forged = normalise(replace(records[2].event, rows=0))
    records[2] = replace(records[2], event=forged, hash=chain_hash(records[2].prev_hash, 3, forged))
    result = verify_chain(records)
    assert (result.ok, result.broken_seq) == (False, 4)
    assert "prev_hash" in (result.reason or "")


def test_removed_and_reordered_records_are_named() -> None:
    records = link(0, GENESIS, events(6))
    assert verify_chain(records[:3] + records[4:]).broken_seq == 5
    swapped = [records[0], records[2], records[1], *records[3:]]
    assert verify_chain(swapped).broken_seq == 3
    cut = verify_chain(records[2:])
    assert (cut.ok, cut.broken_seq) == (False, 3)
    assert "no purge anchor" in (cut.reason or "")


def test_a_purge_anchor_counts_only_when_a_purge_record_confirms_it() -> None:
    records = link(0, GENESIS, events(6))
    anchor = Anchor(first_seq=4, prev_hash=records[2].hash, purged_from_seq=1, cutoff=T0 + timedelta(seconds=3))
    kept = records[3:] + link(6, records[5].hash, [purge_event(T0 + timedelta(days=1), anchor, 3)])
    assert verify_chain(kept, {4: anchor}).ok
    unconfirmed = verify_chain(records[3:], {4: anchor})
    assert (unconfirmed.ok, unconfirmed.broken_seq) == (False, 4)
    wrong = Anchor(4, "e" * 64, 1, anchor.cutoff)
    assert verify_chain(kept, {4: wrong}).broken_seq == 4


def test_parameters_are_stored_json_safe_and_round_trip_unchanged() -> None:
    event = normalise(AuditEvent(at=T0, kind="data_access", parameters={
        "day": date(2026, 1, 15), "amount": Decimal("12.50"), "branches": frozenset({"TXG", "TPE"}),
        "zero": -0.0, "huge": 1e300, "nan": float("nan"), "text": "a\x00b", "nested": {"k": (1, 2)}}))
    assert event.parameters == {"day": "2026-01-15", "amount": "12.50", "branches": ["TPE", "TXG"], "zero": 0.0,
                                "huge": "1e+300", "nan": "nan", "text": "a\ufffdb", "nested": {"k": [1, 2]}}
    assert normalise(event) == event
    assert json.loads(json.dumps(event.parameters)) == event.parameters


def test_bad_events_are_programming_errors() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        normalise(AuditEvent(at=datetime(2026, 1, 1), kind="data_access"))  # noqa: DTZ001
    with pytest.raises(ValueError, match="unknown audit kind"):
        normalise(AuditEvent(at=T0, kind="peeked"))


def test_retention_cutoff_is_calendar_years() -> None:
    assert retention_cutoff(datetime(2026, 1, 15, 2, 0, tzinfo=UTC), 7) == datetime(2019, 1, 15, 2, 0, tzinfo=UTC)
    assert retention_cutoff(datetime(2028, 2, 29, tzinfo=UTC), 7) == datetime(2021, 2, 28, tzinfo=UTC)
