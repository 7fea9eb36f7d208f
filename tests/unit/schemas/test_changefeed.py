"""The change feed's messages: ordered parts of bounded size, exact money, bookkeeping left out."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from schemas.changefeed import decode_message, encode_batch

AT = datetime(2026, 12, 2, 4, 0, tzinfo=UTC)


def test_a_batch_becomes_ordered_parts_with_exact_values() -> None:
    rows = {"agg_sales": [{"bucket": AT, "net_cents": i, "_version": 7, "_deleted": 0} for i in range(5)],
            "cur_w500_invoice_header": [{"invoice_id": 1, "total": Decimal("1050.00"), "invoice_date": date(2026, 12, 1)}],
            "stream_offsets": [{"topic": "t", "partition": 0, "next_offset": 9}],
            "freshness": [{"source_table": "w200.order_master"}]}
    messages = [decode_message(m) for m in encode_batch("1@x", 3, AT, {("lg.w200.order_master", 0): 9}, rows,
                                                         max_rows=4)]
    assert [(m.seq, m.part, m.parts) for m in messages] == [(3, 1, 2), (3, 2, 2)]
    assert all(m.run == "1@x" and m.positions == {"lg.w200.order_master:0": 9} for m in messages)
    assert set(messages[0].tables) == {"agg_sales"} and len(messages[0].tables["agg_sales"]) == 4
    second = messages[1].tables
    assert [r["net_cents"] for r in second["agg_sales"]] == [4]
    assert second["cur_w500_invoice_header"] == [{"invoice_id": 1, "total": "1050.00", "invoice_date": "2026-12-01"}]
    assert "stream_offsets" not in second and "freshness" not in second


def test_nothing_to_announce_is_no_message_and_garbage_is_refused() -> None:
    assert encode_batch("1@x", 1, AT, {}, {"stream_offsets": [{"next_offset": 1}]}) == []
    with pytest.raises(ValidationError):
        decode_message(b'{"run": "1@x"}')
