"""Status files: how a long-running service tells the stack (and the API) it is alive and what it did.

Contract: a service calls `write_status(path, status)` about once a second with a JSON-serialisable dict that
holds at least `pid`; it is written atomically (temp file + rename) with `last_tick_at` set to now (UTC), so
a reader never sees half a file. `read_status(path, stale_seconds)` gives the status when it names a live
process that ticked within `stale_seconds`, else None and why not.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from infra.process import pid_alive


def write_status(path: Path, status: dict[str, Any]) -> None:
    """Write `status` (plus `last_tick_at`) to `path` atomically; datetimes become ISO text."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(orjson.dumps({**status, "last_tick_at": datetime.now(UTC)}, default=str))
    tmp.replace(path)


def load_status(path: Path) -> dict[str, Any] | None:
    """The last status written to `path`, however old, or None when there is none."""
    try:
        status: dict[str, Any] = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    return status


def read_status(path: Path, stale_seconds: float) -> tuple[dict[str, Any] | None, str]:
    """(status, why): the status when it names a live process that ticked within `stale_seconds`."""
    status = load_status(path)
    if status is None:
        return None, "no status written (not started?)"
    age = (datetime.now(UTC) - datetime.fromisoformat(status["last_tick_at"])).total_seconds()
    if not pid_alive(int(status["pid"])):
        return None, f"process {status['pid']} is gone"
    if age > stale_seconds:
        return None, f"no progress for {age:.0f}s"
    return status, f"pid {status['pid']}"
