"""MailSender checks that need no server: suppressed recipients are refused before any connection; backoff."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from connectors.mail.client import MailSender, backoff_delay
from connectors.mail.compose import MailComposer, MailRequest
from connectors.mail.errors import AllRecipientsSuppressed, NoRecipients
from connectors.mail.suppression import InMemorySuppressionList
from tests.unit.connectors_mail.conftest import mail_settings, report_content
from tests.unit.connectors_mail.suppression_contract import entry


class NeverConnect:
    """A token provider that fails the test if asked: every connection starts by fetching a token."""

    calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        raise AssertionError("the sender tried to connect")


async def test_all_suppressed_is_refused_before_connecting(make_composer: Callable[..., MailComposer]) -> None:
    suppression = InMemorySuppressionList()
    await suppression.add(entry("gone@example.net"))
    await suppression.add(entry("left@example.org"))
    token = NeverConnect()
    # Port 9 (discard) on localhost: nothing listens, and nothing must try.
    settings = mail_settings(port=9, max_retries=0)
    async with MailSender(settings, token, make_composer(settings), suppression) as sender:
        request = MailRequest(to=("Gone@Example.net",), cc=("left@example.org",), content=report_content())
        with pytest.raises(AllRecipientsSuppressed) as caught:
            await sender.send(request)
    assert caught.value.addresses == ("gone@example.net", "left@example.org")
    assert token.calls == 0


async def test_no_recipients(make_composer: Callable[..., MailComposer]) -> None:
    settings = mail_settings(port=9)
    sender = MailSender(settings, NeverConnect(), make_composer(settings), InMemorySuppressionList())
    with pytest.raises(NoRecipients):
        await sender.send(MailRequest(to=(), content=report_content()))


def test_request_without_drops_from_every_field() -> None:
    request = MailRequest(to=("a@x.com", "B@x.com"), cc=("c@x.com",), bcc=("b@x.com",), content=report_content())
    trimmed = request.without({"b@x.com", "c@x.com"})
    assert (trimmed.to, trimmed.cc, trimmed.bcc) == (("a@x.com",), (), ())
    assert trimmed.envelope_recipients == ("a@x.com",)


def test_backoff_is_bounded_and_grows() -> None:
    rng = random.Random(7)
    for attempt in range(12):
        ceiling = min(60.0, 2.0 * 2**attempt)
        for _ in range(50):
            assert ceiling / 2 <= backoff_delay(attempt, 2.0, 60.0, rng) <= ceiling
