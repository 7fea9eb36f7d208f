"""AccessLog: one JSON line per call with the documented keys, UTC timestamps, errors, no torn lines."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from connectors.archive.access_log import AccessLog
from connectors.archive.errors import PreconditionFailed

KEYS = {"ts", "actor", "action", "bucket", "object", "generation", "bytes", "outcome", "error"}


def test_success_line(tmp_path: Path) -> None:
    log = AccessLog(tmp_path / "logs" / "access.jsonl")  # parent created on first write
    log.record(actor="scheduler", action="put", bucket="b", obj="reports/x.csv.gz.enc", generation=17, size=42)
    lines = (tmp_path / "logs" / "access.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert set(entry) == KEYS
    assert entry | {"ts": None} == {
        "ts": None, "actor": "scheduler", "action": "put", "bucket": "b", "object": "reports/x.csv.gz.enc",
        "generation": 17, "bytes": 42, "outcome": "ok", "error": None,
    }
    ts = datetime.fromisoformat(entry["ts"])
    assert ts.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - ts) < timedelta(seconds=5)


def test_error_line_is_one_line(tmp_path: Path) -> None:
    log = AccessLog(tmp_path / "access.jsonl")
    log.record(actor="a", action="get", bucket="b", obj="x", error=RuntimeError("first\nsecond   third"))
    log.record(actor="a", action="put", bucket="b", obj="y", error=PreconditionFailed("b", "y", 0))
    first, second = log.read_entries()
    assert first["outcome"] == "error" and first["error"] == "RuntimeError: first second third"
    assert second["error"].startswith("PreconditionFailed: write to gs://b/y refused: it already exists")
    assert len((tmp_path / "access.jsonl").read_text(encoding="utf-8").splitlines()) == 2


def test_non_ascii_kept_readable(tmp_path: Path) -> None:
    log = AccessLog(tmp_path / "access.jsonl")
    log.record(actor="會計", action="list", bucket="b", obj="reports/日報")
    assert "會計" in (tmp_path / "access.jsonl").read_text(encoding="utf-8")
    assert log.read_entries()[0]["object"] == "reports/日報"


def test_concurrent_writers_never_tear_lines(tmp_path: Path) -> None:
    log = AccessLog(tmp_path / "access.jsonl")
    long_name = "reports/" + "x" * 900

    def write(worker: int) -> None:
        for i in range(200):
            log.record(actor=f"w{worker}", action="get", bucket="b", obj=long_name, generation=i, size=i)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    entries = log.read_entries()  # json.loads would fail on a torn line
    assert len(entries) == 1600
    assert {e["actor"] for e in entries} == {f"w{n}" for n in range(8)}


def test_absent_log_is_empty(tmp_path: Path) -> None:
    assert AccessLog(tmp_path / "none.jsonl").read_entries() == []
