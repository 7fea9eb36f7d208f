"""The audit trail's pure core: the event, its canonical form, the hash chain and its verification.

Contract: every stored record has a `seq` (1, 2, 3, … without gaps), the event's fields, `prev_hash` (the
previous record's `hash`; `GENESIS` for record 1) and `hash = sha256(prev_hash + "\\n" + canonical(record))`,
where the canonical form is the record's content (seq and every event field) as compact JSON with sorted
keys, UTF-8. Changing any field, removing or reordering records, or rewriting a hash breaks the chain at
the first record concerned; `verify_chain` names it. A purge removes a prefix of old records and leaves an
`Anchor` (the first kept seq and the hash it must link to), itself confirmed by a "purge" record in the chain.
Nothing here does I/O.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any

GENESIS = "0" * 64
MAX_TEXT = 8_000  # longest string kept in a parameter or detail (query texts are cut, marked with "…")

KINDS = frozenset({"data_access", "export", "sign_in", "sign_in_failed", "mfa_enrol", "mfa_verify", "token_refresh",
                   "token_reuse", "logout", "key_created", "key_revoked", "denied", "purge", "audit_outage"})


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One thing that happened. `at` is timezone-aware; `kind` is one of `KINDS`; `parameters` is made
    JSON-safe when stored (dates to ISO text, Decimals and other values to text, sets to sorted lists)."""

    at: datetime
    kind: str
    principal: str | None = None
    route: str | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    branch_filter: str | None = None
    rows: int | None = None
    bytes: int | None = None
    content_sha256: str | None = None
    duration_ms: float | None = None
    status: int | None = None
    detail: str | None = None


class AuditUnavailable(Exception):
    """The audit store cannot take (or give) records now. The message is safe to show: no addresses."""


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """A stored event: its place in the chain and the hashes that tie it to its predecessor."""

    seq: int
    event: AuditEvent
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class Anchor:
    """Left by a purge: records before `first_seq` were removed; record `first_seq` links to `prev_hash`."""

    first_seq: int
    prev_hash: str
    purged_from_seq: int
    cutoff: datetime


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """`ok`, how many records were checked, the head (last seq and hash) and, when broken, the first bad
    record's seq and why."""

    ok: bool
    checked: int
    head_seq: int | None
    head_hash: str | None
    broken_seq: int | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """An auditor's filter. `since` inclusive, `until` exclusive; `kinds` empty = all; `route` matches exactly
    or, ending in "*", as a prefix; `before` = (at, seq): only records ordered after it (newest first)."""

    principal: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    route: str | None = None
    kinds: frozenset[str] = frozenset()
    before: tuple[datetime, int] | None = None
    limit: int = 100

    def matches(self, record: AuditRecord) -> bool:
        e = record.event
        if self.principal is not None and e.principal != self.principal:
            return False
        if (self.since is not None and e.at < self.since) or (self.until is not None and e.at >= self.until):
            return False
        if self.kinds and e.kind not in self.kinds:
            return False
        if self.route is not None and not _route_matches(self.route, e.route):
            return False
        return self.before is None or (e.at, record.seq) < self.before


def _route_matches(pattern: str, route: str | None) -> bool:
    if route is None:
        return False
    return route.startswith(pattern[:-1]) if pattern.endswith("*") else route == pattern


@dataclass(frozen=True, slots=True)
class PurgeResult:
    """What a purge removed: how many records, up to which cutoff, and the anchor it left (None: nothing)."""

    removed: int
    cutoff: datetime
    anchor: Anchor | None


def _clean_text(value: str) -> str:
    # PostgreSQL text and jsonb refuse NUL and lone surrogates; cut very long texts.
    text = value.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "…"


def _json_safe(value: Any) -> Any:
    """A value JSON (and PostgreSQL jsonb) stores and gives back unchanged."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value) or "e" in repr(value):
            return repr(value)  # jsonb would give 1e+300 back as an integer
        return value + 0.0  # -0.0 becomes 0.0 (jsonb has no negative zero)
    if isinstance(value, str):
        return _clean_text(value)
    if isinstance(value, datetime):
        return utc_text(value) if value.tzinfo else value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta | Decimal):
        return str(value)
    if isinstance(value, Enum):
        return _json_safe(value.value)
    if isinstance(value, Mapping):
        return {_clean_text(str(k)): _json_safe(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted((_json_safe(v) for v in value), key=repr)
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return _clean_text(str(value))


def utc_text(moment: datetime) -> str:
    """A timezone-aware moment as fixed-width UTC text with microseconds ("2026-01-15T02:00:00.000000Z")."""
    if moment.tzinfo is None:
        raise ValueError("audit times must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _text(value: str | None) -> str | None:
    return None if value is None else _clean_text(value)


def normalise(event: AuditEvent) -> AuditEvent:
    """The event as it is stored: UTC, JSON-safe parameters, texts without NUL, duration to 1 µs.
    ValueError for a naive time or an unknown kind (a programming error, not an outage)."""
    if event.at.tzinfo is None:
        raise ValueError("AuditEvent.at must be timezone-aware")
    if event.kind not in KINDS:
        raise ValueError(f"unknown audit kind {event.kind!r}")
    return AuditEvent(
        at=event.at.astimezone(UTC), kind=event.kind, principal=_text(event.principal), route=_text(event.route),
        parameters=_json_safe(dict(event.parameters)), branch_filter=_text(event.branch_filter),
        rows=event.rows, bytes=event.bytes, content_sha256=_text(event.content_sha256),
        duration_ms=None if event.duration_ms is None else round(float(event.duration_ms), 3),
        status=event.status, detail=_text(event.detail))


def canonical(seq: int, event: AuditEvent) -> bytes:
    """The record's content as hashed: compact JSON, sorted keys, UTF-8 (the event must be normalised)."""
    content = {"seq": seq, "at": utc_text(event.at), "kind": event.kind, "principal": event.principal,
               "route": event.route, "parameters": event.parameters, "branch_filter": event.branch_filter,
               "rows": event.rows, "bytes": event.bytes, "content_sha256": event.content_sha256,
               "duration_ms": event.duration_ms, "status": event.status, "detail": event.detail}
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def chain_hash(prev_hash: str, seq: int, event: AuditEvent) -> str:
    """sha256 over the previous record's hash and this record's canonical form, as hex."""
    return hashlib.sha256(prev_hash.encode("ascii") + b"\n" + canonical(seq, event)).hexdigest()


def link(prev_seq: int, prev_hash: str, events: Iterable[AuditEvent]) -> list[AuditRecord]:
    """Chain `events` after the record (prev_seq, prev_hash); each event is normalised first."""
    records: list[AuditRecord] = []
    for event in events:
        stored = normalise(event)
        prev_seq += 1
        digest = chain_hash(prev_hash, prev_seq, stored)
        records.append(AuditRecord(prev_seq, stored, prev_hash, digest))
        prev_hash = digest
    return records


def _describe(record: AuditRecord) -> str:
    return f"record seq={record.seq} ({record.event.kind} at {utc_text(record.event.at)})"


def _start_of_chain(first: AuditRecord, anchors: Mapping[int, Anchor]) -> str | None:
    """Why the first kept record does not start a valid chain, or None when it does."""
    if first.seq == 1:
        return None if first.prev_hash == GENESIS else "record 1 does not link to the genesis hash"
    anchor = anchors.get(first.seq)
    if anchor is None:
        return f"records before seq={first.seq} are missing and no purge anchor explains it"
    if anchor.prev_hash != first.prev_hash:
        return "the record does not link to the hash its purge anchor names"
    return None


class ChainVerifier:
    """Checks records fed in ascending seq (everything the store holds): contiguous seqs, each prev_hash equal
    to the previous hash, each hash recomputed from the record's content, the start at 1 or at a purge anchor
    that a later "purge" record confirms. `feed` returns False at the first broken record; `result()` says why."""

    def __init__(self, anchors: Mapping[int, Anchor] | None = None) -> None:
        self._anchors = dict(anchors or {})
        self._prev: AuditRecord | None = None
        self._pending: Anchor | None = None
        self._checked = 0
        self._broken: tuple[int, str] | None = None

    def _problem(self, record: AuditRecord) -> str | None:
        prev = self._prev
        if prev is None:
            self._pending = self._anchors.get(record.seq) if record.seq != 1 else None
            problem = _start_of_chain(record, self._anchors)
        elif record.seq != prev.seq + 1:
            problem = f"expected seq={prev.seq + 1} next: records {prev.seq + 1}..{record.seq - 1} are missing"
        elif record.prev_hash != prev.hash:
            problem = "its prev_hash is not the previous record's hash (a record before it was altered or replaced)"
        else:
            problem = None
        if problem is None and chain_hash(record.prev_hash, record.seq, record.event) != record.hash:
            problem = "its content does not match its hash (the record was altered)"
        return problem

    def feed(self, record: AuditRecord) -> bool:
        """Check the next record; False (and stop feeding) when it breaks the chain."""
        if self._broken is not None:
            return False
        self._checked += 1
        problem = self._problem(record)
        if problem is not None:
            self._broken = (record.seq, f"{_describe(record)}: {problem}")
            return False
        if self._pending is not None and _confirms(record, self._pending):
            self._pending = None
        self._prev = record
        return True

    def result(self) -> VerifyResult:
        head_seq, head_hash = (self._prev.seq, self._prev.hash) if self._prev else (None, None)
        if self._broken is None and self._pending is not None:
            self._broken = (self._pending.first_seq,
                            f"no purge record confirms the anchor at seq={self._pending.first_seq}")
        if self._broken is not None:
            return VerifyResult(False, self._checked, head_seq, head_hash, *self._broken)
        return VerifyResult(True, self._checked, head_seq, head_hash)


def verify_chain(records: Iterable[AuditRecord], anchors: Mapping[int, Anchor] | None = None) -> VerifyResult:
    """`ChainVerifier` over all of `records` (ascending seq)."""
    verifier = ChainVerifier(anchors)
    for record in records:
        if not verifier.feed(record):
            break
    return verifier.result()


def purge_event(at: datetime, anchor: Anchor, removed: int) -> AuditEvent:
    """The chain's own record of a purge; `verify_chain` requires it for the anchor to count."""
    return AuditEvent(at=at, kind="purge", parameters={
        "first_seq": anchor.first_seq, "prev_hash": anchor.prev_hash, "purged_from_seq": anchor.purged_from_seq,
        "cutoff": utc_text(anchor.cutoff), "removed": removed},
        detail=f"removed {removed} records older than {utc_text(anchor.cutoff)}")


def _confirms(record: AuditRecord, anchor: Anchor) -> bool:
    p = record.event.parameters
    return (record.event.kind == "purge" and p.get("first_seq") == anchor.first_seq
            and p.get("prev_hash") == anchor.prev_hash and p.get("cutoff") == utc_text(anchor.cutoff))


def retention_cutoff(now: datetime, years: int) -> datetime:
    """The moment `years` calendar years before `now` (29 February falls back to 28 February)."""
    try:
        return now.replace(year=now.year - years)
    except ValueError:
        return now.replace(year=now.year - years, day=28)
