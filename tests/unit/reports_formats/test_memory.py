"""The streamed formats hold a block of rows, not the result: 200,000 rows go through in flat memory."""

from __future__ import annotations

import tracemalloc

import pyarrow as pa
import pytest

from api.reports.formats import renderer
from tests.unit.reports_formats.formats_testing import context, many_rows

LIMIT = 30 * 2**20


@pytest.mark.parametrize(("name", "pieces"), [("csv", 200), ("parquet", 20)])
def test_two_hundred_thousand_rows_in_flat_memory(name: str, pieces: int) -> None:
    b"".join(renderer(name)(context(), many_rows(10)))  # imports done: their memory is not the rows'
    written = chunks = arrow_peak = 0
    tracemalloc.start()
    try:
        for chunk in renderer(name)(context(), many_rows(200_000)):
            written += len(chunk)
            chunks += 1
            arrow_peak = max(arrow_peak, pa.total_allocated_bytes())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert chunks > pieces and written > 1_000_000  # every block was written, as it filled
    assert peak < LIMIT, f"python peak {peak / 2**20:.1f} MiB"
    assert arrow_peak < LIMIT, f"arrow peak {arrow_peak / 2**20:.1f} MiB"
