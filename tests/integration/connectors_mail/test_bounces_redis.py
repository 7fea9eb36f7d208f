"""Bounce loop end to end with the Redis suppression list: send, DSN comes back, address never mailed again."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from connectors.mail.bounces import BounceProcessor
from connectors.mail.compose import MailRequest
from connectors.mail.errors import AllRecipientsSuppressed
from connectors.mail.suppression import RedisSuppressionList
from tests.integration.connectors_mail.conftest import RedisServer, SenderFactory, SmtpServer
from tests.unit.connectors_mail.conftest import report_content
from tests.unit.connectors_mail.dsn_samples import DsnRecipient, build_dsn
from tests.unit.connectors_mail.suppression_contract import SuppressionListContract

pytestmark = pytest.mark.integration


@pytest.fixture
async def redis_suppression(redis_server: RedisServer) -> AsyncIterator[RedisSuppressionList]:
    redis: Redis[Any] = Redis.from_url(redis_server.url)
    yield RedisSuppressionList(redis, f"t{uuid.uuid4().hex[:12]}")
    await redis.aclose()  # type: ignore[attr-defined]  # types-redis 4.6 stubs predate aclose (redis>=5)


class TestRedisSuppressionList(SuppressionListContract):
    @pytest.fixture
    def suppression(self, redis_suppression: RedisSuppressionList) -> RedisSuppressionList:
        return redis_suppression


async def test_dsn_suppresses_and_the_address_is_never_mailed_again(
    server: SmtpServer, make_sender: SenderFactory, redis_suppression: RedisSuppressionList
) -> None:
    sender = make_sender(server, suppression=redis_suppression)
    first = await sender.send(MailRequest(to=("nobody@example.net", "wang@example.com"), content=report_content()))
    assert set(first.accepted) == {"nobody@example.net", "wang@example.com"}
    (delivered,) = server.handler.messages

    # The remote MTA of example.net later finds no such mailbox and returns a DSN with the whole message.
    dsn = build_dsn(
        [
            DsnRecipient("nobody@example.net", "failed", "5.1.1", "smtp; 550 5.1.1 <nobody@example.net>: User unknown"),
            DsnRecipient("spam-filtered@example.net", "failed", "5.7.1", "smtp; 550 5.7.1 Rejected by policy"),
        ],
        returned_message=delivered.data,
    )
    outcome = await BounceProcessor(redis_suppression).process(dsn)
    assert outcome.newly_suppressed == ("nobody@example.net",)  # the 5.7.1 policy refusal is not the address
    assert outcome.report is not None and outcome.report.original_message_id == first.message_id
    entry = await redis_suppression.get("nobody@example.net")
    assert entry is not None and entry.status == "5.1.1" and entry.source == "bounce:dsn"

    server.handler.reset()
    with pytest.raises(AllRecipientsSuppressed):
        await sender.send(MailRequest(to=("Nobody@Example.net",), content=report_content()))
    second = await sender.send(MailRequest(to=("nobody@example.net", "wang@example.com"), content=report_content()))
    assert second.suppressed == ("nobody@example.net",)
    assert [m.rcpt_tos for m in server.handler.messages] == [("wang@example.com",)]
