"""The exceptions log: one record per rejected statement file, for the people who follow them up.

`JsonlExceptionLog` appends one JSON line per record with a single O_APPEND write followed by fsync, so a
crash leaves either the whole record or none of it, and concurrent writers do not interleave lines.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import orjson

from connectors.bank.errors import RejectReason, StatementFileRejected, StatementProblem


@dataclass(frozen=True, slots=True)
class ExceptionRecord:
    """Why a file was rejected, when, and where its bytes were kept."""

    recorded_at: datetime
    file_name: str
    sha256: str
    reason: RejectReason
    problems: tuple[StatementProblem, ...]
    local_copy: str | None = None

    @classmethod
    def of(cls, error: StatementFileRejected, recorded_at: datetime, local_copy: Path | None) -> ExceptionRecord:
        if recorded_at.tzinfo is None:
            raise ValueError("recorded_at must be timezone-aware")
        return cls(recorded_at, error.file_name, error.sha256, error.reason, error.problems,
                   str(local_copy) if local_copy else None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "recorded_at": self.recorded_at.isoformat(),
            "file_name": self.file_name,
            "sha256": self.sha256,
            "reason": self.reason.value,
            "problems": [
                {"statement": p.statement, "code": p.code, "detail": p.detail, "reason": p.reason.value}
                for p in self.problems
            ],
            "local_copy": self.local_copy,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExceptionRecord:
        return cls(
            recorded_at=datetime.fromisoformat(data["recorded_at"]),
            file_name=data["file_name"],
            sha256=data["sha256"],
            reason=RejectReason(data["reason"]),
            problems=tuple(
                StatementProblem(p["statement"], p["code"], p["detail"], RejectReason(p["reason"]))
                for p in data["problems"]
            ),
            local_copy=data["local_copy"],
        )


class ExceptionLog(Protocol):
    def append(self, record: ExceptionRecord) -> None:
        """Store the record durably before returning."""
        ...

    def read_all(self) -> list[ExceptionRecord]:
        """Every record, oldest first."""
        ...


class JsonlExceptionLog:
    """`ExceptionLog` as a JSON-lines file (created with its directory on first append)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, record: ExceptionRecord) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = orjson.dumps(record.to_dict()) + b"\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
        try:
            # One write call: with O_APPEND the line lands whole at the end, never interleaved.
            if os.write(fd, line) != len(line):
                raise OSError(f"short write to {self.path} (disk full?)")
            os.fsync(fd)
        finally:
            os.close(fd)

    def read_all(self) -> list[ExceptionRecord]:
        if not self.path.exists():
            return []
        with self.path.open("rb") as fh:
            return [ExceptionRecord.from_dict(orjson.loads(line)) for line in fh if line.strip()]
