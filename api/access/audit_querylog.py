"""Direct BI access to ClickHouse, read from its `system.query_log`, for the auditor's view beside our trail.

Contract: `ClickHouseQueryLog.entries` lists finished and failed queries (newest first, keyset-paginated by
(time, query_id)) as `AuditEvent`s with principal "clickhouse:<user>": kind "data_access" for a finished
query, "denied" for an access or authentication error, "query_failed" for any other error; rows and bytes
are the result's, parameters hold the query text, its id, the tables read and the client's address. The
API's own ClickHouse user is left out (its reads are in our trail already), and so are the reader's own
queries. `QueryLogUnavailable` (a message safe to show) when the server keeps no query log (its config has
no `<query_log>` section) or cannot be reached. The log is the server's: it keeps what its TTL keeps.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from api.access.audit_chain import AuditEvent, AuditQuery
from infra.clickhouse.runner import get_client
from infra.settings import StackSettings

log = logging.getLogger("luckygas.audit")

PRINCIPAL_PREFIX = "clickhouse:"
READER_MARK = "luckygas-audit-reader"
# Access and authentication failures (ACCESS_DENIED, READONLY, UNKNOWN_USER, WRONG_PASSWORD, REQUIRED_PASSWORD,
# IP_ADDRESS_NOT_ALLOWED, AUTHENTICATION_FAILED, NOT_ENOUGH_PRIVILEGES).
DENIED_CODES = (497, 164, 192, 193, 194, 195, 516, 499)
KINDS = frozenset({"data_access", "denied", "query_failed"})
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

SELECT = """
SELECT toUnixTimestamp64Micro(event_time_microseconds) AS at_us, query_id, toString(type), user, query,
       query_duration_ms, read_rows, read_bytes, result_rows, result_bytes, exception_code, exception, tables,
       toString(address), toString(interface), http_user_agent,
       multiIf(type = 'QueryFinish', 'data_access', exception_code IN {denied:Array(Int32)}, 'denied',
               'query_failed') AS kind
FROM system.query_log
WHERE type != 'QueryStart' AND is_initial_query AND log_comment != {mark:String}
  AND user NOT IN {excluded:Array(String)}
"""


class QueryLogUnavailable(Exception):
    """The query log cannot be read; the message says why without addresses."""


@dataclass(frozen=True, slots=True)
class QueryLogEntry:
    """One query-log row as an event; `key` (the query id) orders entries of the same microsecond."""

    key: str
    event: AuditEvent


def _at(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


def _conditions(query: AuditQuery, before: tuple[datetime, str] | None) -> tuple[list[str], dict[str, Any]] | None:
    """The WHERE fragments and parameters for `query`, or None when no query-log entry can match it."""
    where: list[str] = []
    params: dict[str, Any] = {}
    if query.principal is not None:
        if not query.principal.startswith(PRINCIPAL_PREFIX):
            return None
        where.append("user = {user:String}")
        params["user"] = query.principal.removeprefix(PRINCIPAL_PREFIX)
    if query.kinds:
        kinds = sorted(query.kinds & KINDS)
        if not kinds:
            return None
        where.append("kind IN {kinds:Array(String)}")
        params["kinds"] = kinds
    micros = {"since": query.since, "until": query.until, "before_at": before[0] if before else None}
    for name, moment in micros.items():
        if moment is not None:
            params[name] = (moment - EPOCH) // timedelta(microseconds=1)
    if query.since is not None:
        where.append("event_date >= toDate(fromUnixTimestamp64Micro({since:Int64}) - INTERVAL 1 DAY)")
        where.append("at_us >= {since:Int64}")
    if query.until is not None:
        where.append("at_us < {until:Int64}")
    if before is not None:
        where.append("(at_us, query_id) < ({before_at:Int64}, {before_key:String})")
        params["before_key"] = before[1]
    if query.route is not None:
        # A "route" here is a table: "sales" or "luckygas.sales"; "sales*" matches by prefix.
        prefix = query.route.endswith("*")
        name = query.route.removesuffix("*")
        params["table"] = name
        match = "startsWith(t, {table:String}) OR startsWith(t, concat('luckygas.', {table:String}))" if prefix \
            else "t = {table:String} OR t = concat('luckygas.', {table:String})"
        # A refused query read no table: match its text instead.
        where.append(f"arrayExists(t -> {match}, tables) "
                     "OR (empty(tables) AND positionCaseInsensitive(query, {table:String}) > 0)")
    return where, params


def _entry(row: Sequence[Any]) -> QueryLogEntry:
    (at_us, query_id, type_, user, text, duration_ms, read_rows, read_bytes, result_rows, result_bytes,
     code, exception, tables, address, interface, user_agent, kind) = row
    parameters = {"query": text, "query_id": query_id, "type": type_, "tables": list(tables),
                  "read_rows": int(read_rows), "read_bytes": int(read_bytes), "client_address": address,
                  "interface": interface}
    if user_agent:
        parameters["http_user_agent"] = user_agent
    event = AuditEvent(at=_at(int(at_us)), kind=kind, principal=PRINCIPAL_PREFIX + user, route=None,
                       parameters=parameters, rows=int(result_rows), bytes=int(result_bytes),
                       duration_ms=float(duration_ms), status=None,
                       detail=f"error {code}: {exception}" if code else None)
    return QueryLogEntry(str(query_id), event)


class ClickHouseQueryLog:
    """Reads `system.query_log` of the configured ClickHouse with its own short-lived client."""

    def __init__(self, settings: StackSettings, excluded_users: Sequence[str] | None = None) -> None:
        self._settings = settings
        self._excluded = list(excluded_users if excluded_users is not None else [settings.clickhouse.user])

    async def entries(self, query: AuditQuery, before: tuple[datetime, str] | None = None) -> list[QueryLogEntry]:
        """Up to `query.limit` entries matching `query`, newest first, strictly after `before` in that order."""
        conditions = _conditions(query, before)
        if conditions is None:
            return []
        return await asyncio.to_thread(self._read, *conditions, query.limit)

    def _read(self, where: list[str], params: dict[str, Any], limit: int) -> list[QueryLogEntry]:
        try:
            client = get_client(self._settings, database="system")
        except Exception as error:
            log.error("query log: ClickHouse unreachable: %s", error)
            raise QueryLogUnavailable("ClickHouse is unreachable") from None
        try:
            if not client.command("EXISTS TABLE system.query_log", settings={"log_comment": READER_MARK}):
                raise QueryLogUnavailable("the ClickHouse server keeps no query log (its config has no "
                                          "<query_log> section)")
            statement = (SELECT + "".join(f"  AND ({w})\n" for w in where)
                         + "ORDER BY at_us DESC, query_id DESC LIMIT {limit:UInt32}")
            result = client.query(statement, parameters={
                **params, "denied": list(DENIED_CODES), "mark": READER_MARK, "excluded": self._excluded,
                "limit": limit}, settings={"log_comment": READER_MARK})
            return [_entry(row) for row in result.result_rows]
        except QueryLogUnavailable:
            raise
        except Exception as error:
            log.error("query log could not be read: %s", error)
            raise QueryLogUnavailable("the ClickHouse query log could not be read") from None
        finally:
            client.close()

