"""Queue names and arguments, retry tiers and the failure route (pure; no broker)."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.events.consumer import FailureRoute, attempt_of, error_text, route_failure
from connectors.events.models import EventType
from connectors.events.settings import EventsSettings
from connectors.events.topology import Topology


def topology(**overrides: Any) -> Topology:
    return Topology(EventsSettings(_env_file=None, **overrides))


def test_one_work_queue_per_event_type_named_after_it() -> None:
    names = [topology().work_queue(t) for t in EventType]
    assert names == ["report.requested", "report.completed", "report.failed", "alert.triggered"]
    assert topology(queue_prefix="staging.").work_queue(EventType.ALERT_TRIGGERED) == "staging.alert.triggered"


def test_retry_queue_names_carry_their_delay() -> None:
    assert topology().retry_queue(EventType.REPORT_FAILED, 5000) == "report.failed.retry.5000ms"


def test_quorum_work_queues_dead_letter_at_least_once_with_a_delivery_limit() -> None:
    args = topology(delivery_limit=7).work_queue_args()
    assert args == {
        "x-queue-type": "quorum",
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
        "x-dead-letter-exchange": "report.events.dlx",
        "x-delivery-limit": 7,
    }


def test_classic_work_queues_have_no_delivery_limit() -> None:
    assert topology(queue_type="classic").work_queue_args() == {
        "x-queue-type": "classic",
        "x-dead-letter-exchange": "report.events.dlx",
    }


def test_retry_queues_expire_back_into_their_work_queue_only() -> None:
    args = topology(queue_prefix="t1.").retry_queue_args(EventType.REPORT_REQUESTED, 1000)
    assert args["x-message-ttl"] == 1000
    assert args["x-dead-letter-exchange"] == ""  # the default exchange: straight to one queue
    assert args["x-dead-letter-routing-key"] == "t1.report.requested"


@pytest.mark.parametrize(("failed_attempt", "delay"), [(1, 1000), (2, 5000), (3, 30000), (4, 30000), (9, 30000)])
def test_tiers_back_off_and_the_last_one_repeats(failed_attempt: int, delay: int) -> None:
    assert topology().retry_delay_ms(failed_attempt) == delay


def test_failures_retry_until_max_attempts_then_dead_letter() -> None:
    topo = topology(retry_delays_ms=(100, 200), max_attempts=4)
    routes = [route_failure(topo, attempt) for attempt in range(1, 6)]
    assert routes == [
        FailureRoute(100, 2),
        FailureRoute(200, 3),
        FailureRoute(200, 4),
        FailureRoute(None, 4),
        FailureRoute(None, 5),
    ]


def test_a_single_attempt_goes_straight_to_the_dead_letter_queue() -> None:
    assert route_failure(topology(max_attempts=1), 1) == FailureRoute(None, 1)


@pytest.mark.parametrize(
    ("headers", "attempt"),
    [
        (None, 1),
        ({}, 1),
        ({"x-lg-attempt": 3}, 3),
        ({"x-lg-attempt": 0}, 1),
        ({"x-lg-attempt": "2"}, 1),
        ({"x-lg-attempt": True}, 1),
    ],
)
def test_attempt_header_is_read_defensively(headers: dict[str, Any] | None, attempt: int) -> None:
    assert attempt_of(headers) == attempt


def test_error_text_is_bounded() -> None:
    text = error_text(ValueError("x" * 5000))
    assert text.startswith("ValueError: x") and len(text) == 1000
