"""The query-log reader's SQL conditions and row mapping, without a server."""

from __future__ import annotations

from datetime import UTC, datetime

from api.access.audit_chain import AuditQuery
from api.access.audit_querylog import _conditions, _entry

T0 = datetime(2026, 1, 15, 2, 0, tzinfo=UTC)


def test_filters_that_no_query_log_entry_can_match_skip_the_query() -> None:
    assert _conditions(AuditQuery(principal="emp:1001"), None) is None
    assert _conditions(AuditQuery(kinds=frozenset({"sign_in", "export"})), None) is None


def test_filters_become_bound_parameters() -> None:
    conditions = _conditions(AuditQuery(principal="clickhouse:bi_tpe", since=T0, kinds=frozenset({"denied", "export"}),
                                        route="sales"), (T0, "q1"))
    assert conditions is not None
    where, params = conditions
    assert params["user"] == "bi_tpe" and params["kinds"] == ["denied"] and params["table"] == "sales"
    assert params["since"] == params["before_at"] == int(T0.timestamp()) * 1_000_000 and params["before_key"] == "q1"
    assert "bi_tpe" not in " ".join(where) and "sales" not in " ".join(where)  # values only as parameters


def test_a_row_becomes_an_event() -> None:
    row: tuple[object, ...] = (int(T0.timestamp()) * 1_000_000 + 5, "q1", "ExceptionBeforeStart", "bi_tpe", "SELECT * FROM luckygas.ledger",
           3, 0, 0, 0, 0, 497, "Not enough privileges", [], "::ffff:127.0.0.1", "HTTP", "Tableau", "denied")
    entry = _entry(row)
    assert entry.key == "q1"
    e = entry.event
    assert (e.at, e.kind, e.principal, e.rows, e.duration_ms) == (T0.replace(microsecond=5), "denied",
                                                                   "clickhouse:bi_tpe", 0, 3.0)
    assert e.detail == "error 497: Not enough privileges" and e.parameters["http_user_agent"] == "Tableau"
