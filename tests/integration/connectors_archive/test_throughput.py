"""A 20 MB report through put (gzip + AES-256-GCM + upload) and get (download + verify + decrypt + gunzip).

Prints MB/s (run with -s to see them); `python -m connectors.archive.measure_throughput` gives best-of-3 figures.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from connectors.archive.measure_throughput import deliveries_csv, measure
from tests.integration.connectors_archive.conftest import ArchiveUnderTest

pytestmark = pytest.mark.integration

SIZE = 20_000_000


@pytest.mark.parametrize("payload", ["csv", "random"])
def test_20_mb_report_roundtrip_rate(make_archive: Callable[..., ArchiveUnderTest], payload: str) -> None:
    under = make_archive()
    data = deliveries_csv(SIZE) if payload == "csv" else os.urandom(SIZE)
    figures = measure(under.archive, payload, data, rounds=1)  # raises if the read-back differs
    print(
        f"\n{payload}: {figures.plaintext_mb:.1f} MB -> {figures.stored_mb:.1f} MB stored, "
        f"put {figures.put_mb_s:.1f} MB/s, get {figures.get_mb_s:.1f} MB/s"
    )
    assert figures.plaintext_mb == pytest.approx(20.0, abs=0.01)
    if payload == "csv":
        assert figures.stored_mb < figures.plaintext_mb / 3  # compression happened before encryption
    else:
        # Incompressible: stored size = gzip framing + 16-byte tag over the original, nothing more.
        assert figures.plaintext_mb <= figures.stored_mb < figures.plaintext_mb * 1.001
    # Floors an order of magnitude under what this machine does (see the report), to catch pathologies only.
    assert figures.put_mb_s > 2 and figures.get_mb_s > 10
