"""DSN parsing (RFC 3464 samples written here), classification by RFC 3463 status, suppression of hard bounces."""

from __future__ import annotations

import pytest

from connectors.mail.bounces import BounceKind, BounceProcessor, classify, parse_bounce
from connectors.mail.suppression import InMemorySuppressionList
from infra.clock import FixedClock
from tests.unit.connectors_mail.dsn_samples import HUMAN_REPLY, QMAIL_BOUNCE, DsnRecipient, build_dsn, user_unknown

RETURNED = (
    b"From: reports@luckygas.com\r\nTo: nobody@example.net\r\nSubject: report\r\n"
    b"Message-ID: <returned.42@luckygas.com>\r\n\r\nbody\r\n"
)

MIXED = [
    DsnRecipient("nobody@example.net", "failed", "5.1.1", "smtp; 550 5.1.1 <nobody@example.net>: User unknown"),
    DsnRecipient("full@example.net", "failed", "5.2.2", "smtp; 552 5.2.2 Mailbox full"),
    DsnRecipient("spamcheck@example.net", "failed", "5.7.1", "smtp; 550 5.7.1 Message rejected as spam"),
    DsnRecipient("slow@example.net", "delayed", "4.4.1", "smtp; 421 4.4.1 Connection timed out"),
    DsnRecipient("expired@example.net", "failed", "4.4.7", "X-Postfix; delivery temporarily suspended"),
    DsnRecipient("nodomain@example.invalid", "failed", "5.1.2", "X-Postfix; Host or domain name not found"),
    DsnRecipient("ok@example.net", "delivered", "2.0.0", None),
    DsnRecipient("alias-target@example.org", "failed", "5.1.1", None, original="Team@LuckyGas-Partner.com"),
]


def test_user_unknown() -> None:
    report = parse_bounce(user_unknown("Nobody@Example.net"))
    assert report is not None and report.source == "dsn"
    (recipient,) = report.recipients
    assert recipient.address == "nobody@example.net"
    assert (recipient.action, recipient.status, recipient.kind) == ("failed", "5.1.1", BounceKind.HARD)
    assert recipient.diagnostic == "smtp; 550 5.1.1 <Nobody@Example.net>: Recipient address rejected: User unknown"
    assert recipient.remote_mta == "mx1.example.net"
    assert report.reporting_mta == "mx1.example.net"
    assert report.original_envelope_id == "lg-report-0001"
    assert report.original_message_id == "<20260115.1@luckygas.com>"  # from text/rfc822-headers


def test_mixed_report_is_classified_per_recipient() -> None:
    report = parse_bounce(build_dsn(MIXED, returned_message=RETURNED))
    assert report is not None
    kinds = {r.final_recipient: r.kind for r in report.recipients}
    assert kinds == {
        "nobody@example.net": BounceKind.HARD,
        "full@example.net": BounceKind.REJECTED,
        "spamcheck@example.net": BounceKind.REJECTED,
        "slow@example.net": BounceKind.SOFT,
        "expired@example.net": BounceKind.SOFT,
        "nodomain@example.invalid": BounceKind.HARD,
        "ok@example.net": BounceKind.DELIVERED,
        "alias-target@example.org": BounceKind.HARD,
    }
    # The address we sent to is the Original-Recipient when the report gives one.
    assert [r.address for r in report.of_kind(BounceKind.HARD)] == [
        "nobody@example.net",
        "nodomain@example.invalid",
        "team@luckygas-partner.com",
    ]
    assert report.original_message_id == "<returned.42@luckygas.com>"  # from message/rfc822


def test_base64_encoded_status_part() -> None:
    report = parse_bounce(user_unknown("nobody@example.net", base64_status=True))
    assert report is not None
    assert [(r.address, r.kind) for r in report.recipients] == [("nobody@example.net", BounceKind.HARD)]


def test_status_missing_falls_back_to_diagnostic_code() -> None:
    dsn = build_dsn([DsnRecipient("x@example.net", "failed", None, "smtp; 550-5.7.26 Unauthenticated email")])
    report = parse_bounce(dsn)
    assert report is not None
    assert (report.recipients[0].status, report.recipients[0].kind) == ("5.7.26", BounceKind.REJECTED)


def test_non_dsn_bounce_via_flufl_heuristics() -> None:
    report = parse_bounce(QMAIL_BOUNCE)
    assert report is not None and report.source == "heuristic"
    assert [(r.address, r.kind) for r in report.recipients] == [("gone@example.org", BounceKind.HARD)]


def test_a_human_reply_is_not_a_bounce() -> None:
    assert parse_bounce(HUMAN_REPLY) is None


@pytest.mark.parametrize(
    ("action", "status", "kind"),
    [
        ("failed", "5.1.10", BounceKind.HARD),  # null MX
        ("failed", "5.2.1", BounceKind.HARD),  # mailbox disabled
        ("failed", "5.4.4", BounceKind.HARD),  # unroutable
        ("failed", "5.3.4", BounceKind.REJECTED),  # too big for the system
        ("failed", "5.6.0", BounceKind.REJECTED),  # content
        ("Failed (permanent)", "5.1.1", BounceKind.HARD),
        ("error", "5.1.1", BounceKind.HARD),  # OpenSMTPD's non-standard action
        ("failed", None, BounceKind.HARD),
        ("delayed", None, BounceKind.SOFT),
        ("relayed", "2.0.0", BounceKind.DELIVERED),
        ("expanded", "2.0.0", BounceKind.DELIVERED),
    ],
)
def test_classify(action: str, status: str | None, kind: BounceKind) -> None:
    assert classify(action, status) is kind


async def test_processor_suppresses_only_hard_bounces() -> None:
    suppression = InMemorySuppressionList()
    processor = BounceProcessor(suppression, FixedClock())
    outcome = await processor.process(build_dsn(MIXED))
    assert outcome.newly_suppressed == ("nobody@example.net", "nodomain@example.invalid", "team@luckygas-partner.com")
    everyone = [r.final for r in MIXED] + ["team@luckygas-partner.com"]
    assert await suppression.suppressed_among(everyone) == set(outcome.newly_suppressed)
    entry = await suppression.get("nobody@example.net")
    assert entry is not None
    assert (entry.status, entry.source) == ("5.1.1", "bounce:dsn")
    assert entry.reason == "smtp; 550 5.1.1 <nobody@example.net>: User unknown"
    # The same bounce again (MTAs retry) changes nothing.
    again = await processor.process(build_dsn(MIXED))
    assert again.newly_suppressed == ()


async def test_processor_ignores_non_bounces() -> None:
    suppression = InMemorySuppressionList()
    outcome = await BounceProcessor(suppression).process(HUMAN_REPLY)
    assert outcome.report is None and outcome.newly_suppressed == ()
