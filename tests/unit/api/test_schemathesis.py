"""Schemathesis over the OpenAPI document: every report route, with generated parameters (valid and not), as
the head office just through MFA, never answers 5xx (ClickHouse is a fake that returns no rows: what is
exercised is parameter validation, access, formats and caching, not the SQL, which the stack tests run)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.unit.access.access_testing import AccessHarness, FakeClickHouse


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AccessHarness]:
    h = AccessHarness(tmp_path_factory.mktemp("schemathesis"), clickhouse=FakeClickHouse())
    with h.client():
        yield h


def test_no_report_route_answers_5xx(harness: AccessHarness) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", harness.app)
    headers = harness.bearer("emp:1", amr=["pwd", "otp"])
    operations = list(schema.include(path_regex="^/reports").get_all_operations())
    assert len(operations) > 10
    failures = []
    for result in operations:
        operation = result.ok()

        @settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=operation.as_strategy())
        def check(case: schemathesis.Case) -> None:
            response = case.call(headers=headers)
            case.validate_response(response, checks=[not_a_server_error])

        try:
            check()
        except Exception as error:
            failures.append(f"{operation.path}: {str(error)[:300]}")
    assert failures == []
