"""The archive's own access log: one JSON line per read, write, listing or deletion, successful or not.

Contract: `AccessLog(path).record(...)` appends exactly one line, a JSON object with the keys
`ts` (ISO 8601, UTC, with offset), `actor`, `action` (put/get/list/delete/ensure_bucket), `bucket`, `object`,
`generation`, `bytes`, `outcome` ("ok" or "error") and `error` (null, or "<ErrorClass>: <message>"). The line
is written with one unbuffered `write` on a file opened in append mode before `record` returns, under a
lock, so lines from threads of one process never interleave; separate processes each append whole lines
(O_APPEND). `read_entries()` parses the file back (tests, audits).

This complements GCS's Data Access audit logs (which must be enabled per project and see only the service
account); ours names the application actor and the plaintext size.
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

Action = Literal["put", "get", "list", "delete", "ensure_bucket"]
Outcome = Literal["ok", "error"]


@dataclass(frozen=True, slots=True)
class AccessEntry:
    """One access-log line."""

    ts: str
    actor: str
    action: Action
    bucket: str
    object: str | None
    generation: int | None
    bytes: int | None
    outcome: Outcome
    error: str | None


def describe_error(exc: BaseException) -> str:
    """How an error appears in the log: class name and message, on one line."""
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


class AccessLog:
    """Append-only JSONL access log at `path` (parent directories are created on first write)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def record(
        self, *, actor: str, action: Action, bucket: str, obj: str | None = None, generation: int | None = None,
        size: int | None = None, error: BaseException | None = None,
    ) -> AccessEntry:
        """Append one line and return it; `error` set means the action failed (outcome "error")."""
        entry = AccessEntry(
            ts=datetime.now(UTC).isoformat(timespec="microseconds"),
            actor=actor,
            action=action,
            bucket=bucket,
            object=obj,
            generation=generation,
            bytes=size,
            outcome="ok" if error is None else "error",
            error=None if error is None else describe_error(error),
        )
        line = (json.dumps(asdict(entry), ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Unbuffered: the whole line goes to the kernel in one write() on an O_APPEND descriptor.
            with self.path.open("ab", buffering=0) as handle:
                handle.write(line)
        return entry

    def read_entries(self) -> list[dict[str, Any]]:
        """Every line parsed, oldest first (an absent file is an empty log)."""
        if not self.path.exists():
            return []
        with self.path.open(encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]
