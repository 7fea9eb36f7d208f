"""Upstream drift: an added column is ignored and reported; a removed or retyped one is a clear, counted error."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from prometheus_client import CollectorRegistry

from agents.engine import Change, Engine
from infra.clock import FixedClock
from schemas.decode import ChangeDecoder, MalformedChange
from schemas.drift import lenient_row_model
from schemas.tables.w200 import OrderDetail, OrderMaster
from sinks.ddl import table_defs
from tests.unit.schemas.test_decode import envelope, order_row

MASTER = "luckygas.w200.order_master"
DETAIL = "luckygas.w200.order_detail"
T0 = datetime(2026, 1, 15, 2, 0, tzinfo=UTC)


def detail_row(**changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "detail_id": 70, "order_id": 7, "line_no": 1, "product_id": 2, "quantity": 2, "unit_price": "760.00",
        "line_amount": "1520.00", "tax_amount": "76.00", "deposit_amount": "0", "cylinders_returned": 1,
        "created_at": "2026-01-15T02:00:00Z", "updated_at": "2026-01-15T02:00:00Z",
    }
    row.update(changes)
    return row


def detail_envelope(op: str, before: dict[str, Any] | None, after: dict[str, Any] | None) -> bytes:
    return envelope(op, before, after, table="order_detail")


def without(row: dict[str, Any], column: str) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != column}


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def decoder(clock: FixedClock, registry: CollectorRegistry) -> ChangeDecoder:
    return ChangeDecoder("luckygas", clock=clock, registry=registry)


def test_added_column_is_decoded_ignored_and_recorded(decoder: ChangeDecoder, clock: FixedClock,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="luckygas.schemas"):
        change = decoder.decode(MASTER, envelope("c", None, order_row(delivery_note="ring twice")), offset=3)
        clock.advance(timedelta(minutes=5))
        decoder.decode(MASTER, envelope("c", None, order_row(order_id=8, delivery_note=None)), offset=4)
    assert change is not None
    row = change.after
    assert isinstance(row, OrderMaster)  # a subclass: the engine reads it like the original
    assert "delivery_note" not in row.model_dump() and not hasattr(row, "delivery_note")
    assert row.model_dump() == OrderMaster.model_validate(order_row()).model_dump()
    drift = decoder.drift["w200.order_master"]
    assert drift.added_columns == {"delivery_note"} and drift.records == 2
    assert (drift.first_seen, drift.last_seen) == (T0, T0 + timedelta(minutes=5))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "delivery_note" in warnings[0].getMessage()  # once per (table, column)
    assert decoder.broken == {}


def test_two_added_columns_in_both_images(decoder: ChangeDecoder, registry: CollectorRegistry) -> None:
    drifted = order_row(delivery_note="x", floor=3)
    change = decoder.decode(MASTER, envelope("u", drifted, {**drifted, "order_status": "confirmed"}))
    assert change is not None and change.before is not None and change.after is not None
    assert isinstance(change.before, OrderMaster) and change.after.order_status == "confirmed"  # type: ignore[attr-defined]
    drift = decoder.drift["w200.order_master"]
    assert drift.added_columns == {"delivery_note", "floor"} and drift.records == 1
    assert registry.get_sample_value("lg_stream_schema_drift_records_total", {"table": "w200.order_master"}) == 1


def test_drift_to_json_is_plain_and_aware(decoder: ChangeDecoder) -> None:
    decoder.decode(MASTER, envelope("c", None, order_row(b=1, a=2)))
    data = decoder.drift["w200.order_master"].to_json()
    assert data == {"table": "w200.order_master", "added_columns": ["a", "b"], "records": 1,
                    "first_seen": "2026-01-15T02:00:00+00:00", "last_seen": "2026-01-15T02:00:00+00:00"}
    orjson.dumps(data)


def test_removed_required_column_names_it(decoder: ChangeDecoder, registry: CollectorRegistry) -> None:
    # cancel_reason is nullable but has no default in the model: a record without it is a removed column.
    old = without(order_row(), "cancel_reason")
    with pytest.raises(MalformedChange) as caught:
        decoder.decode(MASTER, envelope("u", old, {**old, "order_status": "confirmed"}), partition=1, offset=9)
    reason = caught.value.reason
    assert reason == "column `cancel_reason` is missing (removed upstream?)"  # said once for both images
    assert (caught.value.topic, caught.value.offset) == (MASTER, 9)
    broken = decoder.broken["w200.order_master"]
    assert (broken.count, broken.last_reason, broken.columns) == (1, reason, {"cancel_reason"})
    assert broken.to_json()["count"] == 1 and broken.to_json()["last_seen"] == "2026-01-15T02:00:00+00:00"
    assert registry.get_sample_value("lg_stream_schema_broken_records_total", {"table": "w200.order_master"}) == 1
    assert decoder.drift == {}


def test_retyped_column_names_it(decoder: ChangeDecoder) -> None:
    with pytest.raises(MalformedChange) as caught:
        decoder.decode(DETAIL, detail_envelope("c", None, detail_row(quantity="x")))
    assert caught.value.reason == (
        "column `quantity`: expected a valid integer, got 'x' (retyped upstream?) at after.quantity")
    with pytest.raises(MalformedChange, match=r"column `quantity`: expected a valid integer, got 2.5"):
        decoder.decode(DETAIL, detail_envelope("c", None, detail_row(quantity=2.5)))
    assert decoder.broken["w200.order_detail"].count == 2


def test_a_new_enum_value_is_named_as_such(decoder: ChangeDecoder) -> None:
    with pytest.raises(MalformedChange, match=r"column `channel`: expected one of .*'walk_in'.*got 'app' "
                                              r"\(a new value upstream\?\)"):
        decoder.decode(MASTER, envelope("c", None, order_row(channel="app")))


def test_renamed_column_is_missing_plus_added_and_not_tolerated(decoder: ChangeDecoder) -> None:
    renamed = {**without(order_row(), "cancel_reason"), "cancellation_reason": None}
    with pytest.raises(MalformedChange) as caught:
        decoder.decode(MASTER, envelope("c", None, renamed))
    assert "column `cancel_reason` is missing (removed upstream?)" in caught.value.reason
    assert "column `cancellation_reason` is not in the model (added upstream)" in caught.value.reason
    assert decoder.drift == {}
    assert decoder.broken["w200.order_master"].columns == {"cancel_reason", "cancellation_reason"}


def test_other_tables_are_unaffected(decoder: ChangeDecoder) -> None:
    decoder.decode(MASTER, envelope("c", None, order_row(delivery_note="x")))
    with pytest.raises(MalformedChange):
        decoder.decode(MASTER, envelope("c", None, without(order_row(), "subtotal")))
    line = decoder.decode(DETAIL, detail_envelope("c", None, detail_row()))
    assert line is not None and type(line.after) is OrderDetail  # the strict model, not a twin
    assert set(decoder.drift) == {"w200.order_master"} and set(decoder.broken) == {"w200.order_master"}


def test_clean_records_take_the_strict_path_only(decoder: ChangeDecoder, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(model: object) -> object:
        raise AssertionError("the lenient twin was built for a clean record")

    monkeypatch.setattr("schemas.decode.lenient_row_model", refuse)
    for i in range(3):
        change = decoder.decode(MASTER, envelope("c", None, order_row(order_id=i)))
        assert change is not None and type(change.after) is OrderMaster
    assert decoder.drift == {} and decoder.broken == {}


def test_lenient_twin_is_built_once_per_table(decoder: ChangeDecoder, monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[object] = []
    original = lenient_row_model

    def counting(model: Any) -> Any:
        built.append(model)
        return original(model)

    monkeypatch.setattr("schemas.decode.lenient_row_model", counting)
    first = decoder.decode(MASTER, envelope("c", None, order_row(extra=1)))
    second = decoder.decode(MASTER, envelope("c", None, order_row(extra=2, more=3)))
    assert built == [OrderMaster]
    assert first is not None and second is not None and type(first.after) is type(second.after)
    assert type(first.after) is OrderMaster  # handed on as the table's own class (compares like any change)


def test_other_malformed_records_are_not_counted_as_broken(decoder: ChangeDecoder) -> None:
    for raw in (b"not json", envelope("x", None, order_row()), envelope("u", None, order_row(extra=1)),
                envelope("c", None, order_row(extra=1), table="order_detail")):
        with pytest.raises(MalformedChange):
            decoder.decode(MASTER, raw)
    assert decoder.broken == {} and decoder.drift == {}


def test_a_drifted_row_flows_through_the_engine_like_a_clean_one(decoder: ChangeDecoder) -> None:
    change = decoder.decode(MASTER, envelope("c", None, order_row(delivery_note="x")))
    assert change is not None
    out = Engine(FixedClock(T0)).apply([Change("w200.order_master", change)])
    [row] = out.rows["cur_w200_order_master"]
    assert set(row) == set(table_defs()["cur_w200_order_master"].column_names)


def test_two_decoders_can_share_no_registry() -> None:
    # Counters go to a private registry by default, so building many decoders (tests, bench) never clashes.
    for _ in range(2):
        assert ChangeDecoder("lg").drift == {}


def test_a_record_broken_outside_its_rows_keeps_the_generic_reason(decoder: ChangeDecoder) -> None:
    # No source, and a row missing nearly everything: not a drifted change, so no "removed upstream?" noise.
    with pytest.raises(MalformedChange) as caught:
        decoder.decode(MASTER, orjson.dumps({"op": "c", "after": {"order_id": "x"}}))
    assert "after.order_id: Input should be a valid integer" in caught.value.reason
    assert "upstream" not in caught.value.reason and decoder.broken == {}
