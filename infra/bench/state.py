"""The streaming engine's memory against history length, its restart, and a late change to old data.

    python -m infra.bench.state [--years 1 3 7] [--cache-entries 20000]     # make bench-scale

Writes .state/bench/state.json and the README's `state` table.

Years of the simulator's history (the backfill's own generator: 1,000 orders a day, 50,000 customers, with
their lines, invoices, payments, stock movements and dispatch runs) are applied to the engine as snapshot
changes, in chunks of 10,000 committed to its RocksDB store as the worker commits its batches. At each mark
the process's resident memory (after a collection) and the store's size on disk are recorded. Then the
engine is reopened on the same store (the worker's restart) and a payment for the oldest open invoice
arrives: the time to resume and to apply it, and whether receivables moved by exactly its amount.
Kafka and ClickHouse are left out on purpose: they do not change the engine's memory, which is the part
that used to grow with history (the worker's RSS was 2,160 MiB at one year with everything in memory).
"""

from __future__ import annotations

import argparse
import gc
import itertools
import shutil
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psutil

from agents.engine import Change, Engine
from agents.projections import PROJECTORS
from agents.store import RocksStore
from infra.bench.report import markdown_table, update_readme, write_json
from infra.clock import TAIPEI, FixedClock
from infra.settings import PROJECT_ROOT
from infra.simulator.backfill import BackfillPlan, fresh_batches
from schemas.envelope import ChangeEnvelope, Op, Source
from schemas.registry import TABLES

CHUNK = 10_000
_lsn = itertools.count(1_000)


def _change(table: str, after: Any, before: Any = None, op: Op = "r") -> Change:
    schema, name = table.split(".")
    ts_ms = int(time.time() * 1000)
    source = Source.model_construct(connector="postgresql", name="bench", ts_ms=ts_ms, db="luckygas",
                                    schema_name=schema, table=name, lsn=next(_lsn))
    envelope = ChangeEnvelope[Any].model_construct(before=before, after=after, source=source, op=op, ts_ms=ts_ms)
    return Change(table, envelope)


def _changes(plan: BackfillPlan) -> Iterator[tuple[int, list[Change]]]:
    """(days of history so far, that batch's changes of the tables the engine reads)."""
    day = 0
    for batch in fresh_batches(plan):
        if "w200.order_master" in batch:
            day += 1
        changes = [_change(table, TABLES[table].model.model_construct(**row))
                   for table, rows in batch.items() if table in PROJECTORS for row in rows]
        yield day, changes


def _rss_mib() -> float:
    gc.collect()
    return round(psutil.Process().memory_info().rss / 2**20, 1)


def _disk_mib(path: Path) -> float:
    return round(sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20, 1)


def run(years: list[float], cache_entries: int, workdir: Path) -> dict[str, Any]:
    days = round(max(years) * 365)
    end = datetime.now(TAIPEI).date()
    plan = BackfillPlan(days=days, end=end)
    clock = FixedClock(datetime.combine(end, datetime.min.time(), TAIPEI).astimezone(UTC) + timedelta(hours=20))
    path = workdir / "state"
    engine = Engine(clock, store=RocksStore(path), cache_entries=cache_entries)
    marks, applied, started = [], 0, time.perf_counter()
    pending = [round(y * 365) for y in sorted(years)]
    oldest_invoice: Any = None
    for day, changes in _changes(plan):
        for start in range(0, len(changes), CHUNK):
            engine.apply(changes[start:start + CHUNK])
            applied += len(changes[start:start + CHUNK])
            engine.commit(engine.stage(), {("bench", 0): applied})
        if oldest_invoice is None:
            oldest_invoice = next((c.envelope.after for c in changes if c.table == "w500.invoice_header"), None)
        while pending and day >= pending[0]:
            marks.append({"years": round(pending.pop(0) / 365, 2), "days": day, "changes": applied,
                          "seconds": round(time.perf_counter() - started, 1), "rss_mib": _rss_mib(),
                          "store_mib": _disk_mib(path), "entries_in_memory": engine.spaces.memory_entries()})
            print(marks[-1], flush=True)
    engine.store.close()
    return {"cache_entries": cache_entries, "marks": marks, "changes_per_second": round(applied / (
        time.perf_counter() - started)), "restart": _restart(clock, path, cache_entries, oldest_invoice)}


def _restart(clock: FixedClock, path: Path, cache_entries: int, invoice: Any) -> dict[str, Any]:
    """Reopen the store as a restarted worker does, and pay an invoice from the first day of history."""
    started = time.perf_counter()
    engine = Engine(clock, store=RocksStore(path), cache_entries=cache_entries)
    assert engine.stored_positions() is not None
    engine.resume()
    resumed = time.perf_counter() - started
    key = (invoice.customer_id,)
    before = engine.aggregates.get("receivables", key) or [0] * 8
    payment = TABLES["w500.payment_record"].model.model_construct(
        payment_id=10**12, invoice_id=invoice.invoice_id, customer_id=invoice.customer_id,
        payment_date=clock.now().date(), amount=Decimal("1.00"), status="received", method="cash")
    started = time.perf_counter()
    engine.apply([_change("w500.payment_record", payment, op="c")])
    late = time.perf_counter() - started
    after = engine.aggregates.get("receivables", key) or [0] * 8
    engine.store.close()
    return {"resume_seconds": round(resumed, 3), "late_payment_ms": round(late * 1000, 1),
            "invoice_date": str(invoice.invoice_date),
            "paid_moved_by_cents": after[1] - before[1], "exact": after[1] - before[1] == 100}


def table(results: dict[str, Any]) -> str:
    """The README's table of a run."""
    rows = [(f"{m['years']} years ({m['days']} days, {m['changes']:,} changes, reached after {m['seconds']:,.0f} s)",
             f"resident {m['rss_mib']:,} MiB, store on disk {m['store_mib']:,} MiB, "
             f"{m['entries_in_memory']:,} entries in memory") for m in results["marks"]]
    restart = results["restart"]
    rows += [("apply rate over the whole run", f"{results['changes_per_second']:,} changes/s (one core, no Kafka)"),
             ("restart on the store: resume", f"{restart['resume_seconds']} s"),
             (f"then a payment for the invoice of {restart['invoice_date']} (the first day of history)",
              f"applied in {restart['late_payment_ms']} ms; receivables paid moved by "
              f"{restart['paid_moved_by_cents']} cents ({'exact' if restart['exact'] else 'WRONG'})")]
    when = datetime.now(UTC).isoformat(timespec="seconds")
    return markdown_table(rows, f"Engine state against history, measured {when}, cache {results['cache_entries']:,} "
                                f"entries per space (full results: .state/bench/state.json)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=float, nargs="+", default=[1, 3, 7])
    parser.add_argument("--cache-entries", type=int, default=20_000)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-state-"))
    try:
        results = run(args.years, args.cache_entries, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    write_json(results, PROJECT_ROOT / ".state" / "bench" / "state.json")
    update_readme("state", table(results))
    print(table(results))


if __name__ == "__main__":
    main()
