"""Timing script: MB/s of `ReportArchive.put` (gzip + AES-256-GCM + upload) and `get` (download + verify +
decrypt + gunzip) for one large report, against a local fake-gcs-server (not a test; prints figures).

Run: `python -m connectors.archive.measure_throughput [--mb 20] [--rounds 3]`.
Two payloads of the given size: a synthetic deliveries CSV (realistic report, compresses well) and random
bytes (incompressible, the worst case for gzip). MB/s = original (plaintext) MB / wall-clock seconds, best of
`rounds`; 1 MB = 10**6 bytes. The fake keeps objects in memory on loopback, so network time is near zero: the
figures are the client-side cost (compression, encryption, hashing, HTTP framing), an upper bound for GCS.
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from connectors.archive.archive import ReportArchive
from connectors.archive.keys import generate_key
from connectors.archive.local_fake_gcs import LocalFakeGcs
from connectors.archive.naming import object_name
from connectors.archive.settings import ArchiveSettings
from infra.process import free_port

_DISTRICTS = ["中正區", "大安區", "信義區", "板橋區", "新莊區", "三重區", "桃園區", "中壢區"]
_PRODUCTS = ["20kg", "16kg", "10kg", "4kg", "50kg"]


def deliveries_csv(target_bytes: int, seed: int = 7) -> bytes:
    """A deliveries report of about `target_bytes` (UTF-8 CSV with Traditional Chinese district names)."""
    rng = random.Random(seed)
    lines = ["delivery_id,date,customer_id,district,product,qty,unit_price_twd,amount_twd,driver_id\n"]
    size = len(lines[0].encode())
    start = date(2026, 1, 1)
    row = 0
    while size < target_bytes:
        row += 1
        qty = rng.randint(1, 6)
        price = rng.choice([720, 760, 810, 850, 1900])
        line = (
            f"D{row:09d},{start + timedelta(days=rng.randint(0, 330))},C{rng.randint(1, 90_000):06d},"
            f"{rng.choice(_DISTRICTS)},{rng.choice(_PRODUCTS)},{qty},{price},{qty * price},R{rng.randint(1, 400):04d}\n"
        )
        lines.append(line)
        size += len(line.encode())
    return "".join(lines).encode("utf-8")


@dataclass(frozen=True, slots=True)
class Figures:
    """Best-of-rounds rates for one payload."""

    payload: str
    plaintext_mb: float
    stored_mb: float
    put_mb_s: float
    get_mb_s: float


def measure(archive: ReportArchive, payload: str, data: bytes, rounds: int) -> Figures:
    """Put and get `data` `rounds` times under one name; verify every read; return the best rates."""
    name = object_name(f"throughput-{payload}", "csv", datetime.now(UTC))
    best_put = best_get = float("inf")
    stored = 0
    for _ in range(rounds):
        started = time.perf_counter()
        archived = archive.put(name, data, "text/csv")
        best_put = min(best_put, time.perf_counter() - started)
        stored = archived.stored_size or 0
        started = time.perf_counter()
        back = archive.get(name, archived.generation)
        best_get = min(best_get, time.perf_counter() - started)
        if back != data:
            raise AssertionError("read back differs from what was archived")
    mb = len(data) / 1e6
    return Figures(payload, mb, stored / 1e6, mb / best_put, mb / best_get)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--mb", type=float, default=20.0, help="payload size in MB (10**6 bytes)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--level", type=int, default=None, help="gzip level (default: the settings' compress_level)")
    args = parser.parse_args()
    size = int(args.mb * 1e6)
    with tempfile.TemporaryDirectory() as tmp, LocalFakeGcs(Path(tmp), free_port()) as fake:
        settings = ArchiveSettings(
            _env_file=None,
            endpoint=fake.url,
            keys=f"bench:{base64.b64encode(generate_key()).decode()}",
            access_log_path=Path(tmp) / "access.jsonl",
        )
        if args.level is not None:
            settings = settings.model_copy(update={"compress_level": args.level})
        archive = ReportArchive.from_settings(settings)
        archive.ensure_buckets()
        for payload, data in (("csv", deliveries_csv(size)), ("random", os.urandom(size))):
            f = measure(archive, payload, data, args.rounds)
            print(
                f"{f.payload:>6}: {f.plaintext_mb:.1f} MB -> {f.stored_mb:.1f} MB stored; "
                f"put {f.put_mb_s:.1f} MB/s, get {f.get_mb_s:.1f} MB/s "
                f"(gzip level {settings.compress_level}, best of {args.rounds})"
            )


if __name__ == "__main__":
    main()
