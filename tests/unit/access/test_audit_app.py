"""The audit trail in the real app (C1's principal, roles.yaml): the auditor reads /audit, other roles get 403,
and every one of those requests leaves exactly one record naming its principal."""

from __future__ import annotations

from pathlib import Path

from api.access.audit import MemoryAuditLog
from api.access.audit_middleware import AuditMiddleware
from api.routes import audit as audit_routes
from infra.access_settings import AuditSettings
from tests.unit.access.access_testing import AccessHarness


def harness(tmp_path: Path) -> tuple[AccessHarness, MemoryAuditLog]:
    h = AccessHarness(tmp_path)
    log = MemoryAuditLog()
    h.app.state.audit = log
    h.app.state.audit_settings = AuditSettings(clickhouse_excluded_users=())
    if AuditMiddleware not in [getattr(m, "cls", None) for m in h.app.user_middleware]:
        h.app.add_middleware(AuditMiddleware, settings=h.app.state.audit_settings)
    if not any(getattr(r, "path", "") == "/audit" for r in h.app.routes):
        h.app.include_router(audit_routes.router)
    return h, log


def test_the_auditor_reads_and_others_are_refused_each_once_on_record(tmp_path: Path) -> None:
    h, log = harness(tmp_path)
    auditor = h.bearer("user:auditor", role="auditor", branches=["*"])
    analyst = h.bearer("user:analyst", role="analyst", branches=["*"])
    with h.client() as client:
        assert client.get("/audit").status_code == 401
        assert client.get("/audit", headers=analyst).status_code == 403
        first = client.get("/audit", headers=auditor)
        assert first.status_code == 200, first.text
        assert [i["kind"] for i in first.json()["items"]] == ["denied", "denied"]
        assert client.get("/audit/verify", headers=auditor).json()["ok"] is True
    assert [(e.kind, e.principal, e.route, e.status) for e in log.events] == [
        ("denied", None, "GET /audit", 401),
        ("denied", "user:analyst", "GET /audit", 403),
        ("data_access", "user:auditor", "GET /audit", 200),
        ("data_access", "user:auditor", "GET /audit/verify", 200)]
    assert log.events[2].rows == 2 and log.events[2].branch_filter == "all branches"
