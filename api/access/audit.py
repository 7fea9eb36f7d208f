"""The audit trail: who read, exported, signed in, was refused — append-only, hash-chained, fail-closed.

Contract: the app keeps one `AuditLog` on `app.state.audit` (`PostgresAuditLog` in the stack, `MemoryAuditLog`
in tests). `append` returns only once the record is durable, and raises `AuditUnavailable` when the store
cannot take it: callers then refuse to serve (503), so no data leaves unaudited. Records are chained by
sha256 (see `api.access.audit_chain`); `verify()` names the first broken record. Stores also answer the
auditor's queries (`query`, newest first, keyset-paginated) and purge records past the retention, leaving
an anchor the verifier checks. Routes take the log as `AuditDep`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Protocol, runtime_checkable

from fastapi import Depends, HTTPException, Request

from api.access.audit_chain import (
    GENESIS,
    Anchor,
    AuditEvent,
    AuditQuery,
    AuditRecord,
    AuditUnavailable,
    PurgeResult,
    VerifyResult,
    link,
    purge_event,
    retention_cutoff,
    verify_chain,
)
from api.access.audit_pg import PostgresAuditLog, ensure_audit_schema, open_postgres_audit, purge_expired
from infra.access_settings import AuditSettings

__all__ = [
    "AuditDep", "AuditEvent", "AuditLog", "AuditQuery", "AuditRecord", "AuditSettings", "AuditSettingsDep",
    "AuditStore", "AuditUnavailable", "MemoryAuditLog", "PostgresAuditLog", "PurgeResult", "VerifyResult",
    "ensure_audit_schema", "get_audit_log", "get_audit_settings", "open_postgres_audit", "purge_expired",
]

UNAVAILABLE_DETAIL = "the audit trail cannot record this request now, so its data was not served; try again shortly"


class AuditLog(Protocol):
    """Where audit events go. `append` is durable before it returns; AuditUnavailable when it cannot be."""

    async def append(self, event: AuditEvent) -> None: ...


@runtime_checkable
class AuditStore(AuditLog, Protocol):
    """An audit log the auditor can also read and verify."""

    async def query(self, query: AuditQuery) -> list[AuditRecord]: ...

    async def verify(self) -> VerifyResult: ...


@dataclass
class MemoryAuditLog:
    """The in-memory audit log for tests: the same chain, anchors and purge rules as PostgreSQL.
    Set `available = False` to simulate an outage (append and query raise AuditUnavailable)."""

    records: list[AuditRecord] = field(default_factory=list)
    anchors: dict[int, Anchor] = field(default_factory=dict)
    available: bool = True
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    def _head(self) -> tuple[int, str]:
        if self.records:
            return self.records[-1].seq, self.records[-1].hash
        if self.anchors:
            anchor = self.anchors[max(self.anchors)]
            return anchor.first_seq - 1, anchor.prev_hash
        return 0, GENESIS

    def _check(self) -> None:
        if not self.available:
            raise AuditUnavailable("the audit store is unavailable")

    async def append(self, event: AuditEvent) -> None:
        async with self._lock:
            self._check()
            self.records.extend(link(*self._head(), [event]))

    @property
    def events(self) -> list[AuditEvent]:
        return [record.event for record in self.records]

    async def query(self, query: AuditQuery) -> list[AuditRecord]:
        self._check()
        found = [r for r in self.records if query.matches(r)]
        found.sort(key=lambda r: (r.event.at, r.seq), reverse=True)
        return found[:query.limit]

    async def verify(self) -> VerifyResult:
        self._check()
        return verify_chain(list(self.records), dict(self.anchors))

    async def purge_expired(self, now: datetime, retention_years: int) -> PurgeResult:
        """Remove the oldest records while they are older than the retention; anchor and record the purge."""
        async with self._lock:
            self._check()
            cutoff = retention_cutoff(now, retention_years)
            keep = next((i for i, r in enumerate(self.records) if r.event.at >= cutoff), len(self.records))
            if keep == 0:
                return PurgeResult(0, cutoff, None)
            removed, self.records = self.records[:keep], self.records[keep:]
            anchor = Anchor(removed[-1].seq + 1, removed[-1].hash, removed[0].seq, cutoff)
            self.anchors[anchor.first_seq] = anchor
            self.records.extend(link(removed[-1].seq, removed[-1].hash, [purge_event(now, anchor, keep)]))
            return PurgeResult(keep, cutoff, anchor)


def get_audit_log(request: Request) -> AuditLog:
    """The app's audit log (`app.state.audit`); 503 when the app has none (never serve unaudited)."""
    audit: AuditLog | None = getattr(request.app.state, "audit", None)
    if audit is None:
        raise HTTPException(503, UNAVAILABLE_DETAIL)
    return audit


AuditDep = Annotated[AuditLog, Depends(get_audit_log)]


def get_audit_settings(request: Request) -> AuditSettings:
    """`app.state.audit_settings` when the app set it, else the defaults."""
    settings: AuditSettings | None = getattr(request.app.state, "audit_settings", None)
    return settings if settings is not None else AuditSettings()


AuditSettingsDep = Annotated[AuditSettings, Depends(get_audit_settings)]
