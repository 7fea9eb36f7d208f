"""Measured figures (printed; run with -s to see them): messages/s over one connection and with a connection
per message (STARTTLS + XOAUTH2 each time), and the time to send the largest attachment that fits.

Asserted floors are far below what a laptop does, so the tests catch pathologies (a per-message reconnect
where none is expected, a quadratic serializer), not machine speed.
"""

from __future__ import annotations

import time

import pytest

from connectors.mail.compose import Attachment, MailRequest
from tests.integration.connectors_mail.conftest import SenderFactory, SmtpServer
from tests.unit.connectors_mail.conftest import kpi_content, report_content

pytestmark = pytest.mark.integration


async def _rate(sender_factory: SenderFactory, server: SmtpServer, count: int, per_connection: int) -> float:
    sender = sender_factory(server, max_messages_per_connection=per_connection)
    start = time.perf_counter()
    for i in range(count):
        await sender.send(MailRequest(to=(f"user{i}@example.com",), content=kpi_content(), lang="zh-TW"))
    elapsed = time.perf_counter() - start
    await sender.aclose()
    return count / elapsed


async def test_messages_per_second(server: SmtpServer, make_sender: SenderFactory) -> None:
    reused = await _rate(make_sender, server, 200, per_connection=1000)
    assert len(server.handler.logins) == 1
    fresh = await _rate(make_sender, server, 50, per_connection=1)
    assert len(server.handler.logins) == 51
    assert len(server.handler.messages) == 250
    print(f"\n[mail] sequential KPI alerts, one connection: {reused:.0f} msg/s; new connection each: {fresh:.0f} msg/s")
    assert reused > 20 and fresh > 5


async def test_time_to_send_largest_attachment(server: SmtpServer, make_sender: SenderFactory) -> None:
    content = bytes(range(256)) * (19_000_000 // 256)  # ~19 MB raw -> ~26 MB on the wire
    sender = make_sender(server)
    start = time.perf_counter()
    result = await sender.send(
        MailRequest(to=("wang@example.com",), content=report_content(), attachments=(Attachment("明細.bin", content),))
    )
    elapsed = time.perf_counter() - start
    assert result.archived == () and len(server.handler.messages) == 1
    print(f"\n[mail] {len(content) / 1e6:.1f} MB attachment ({result.size_bytes / 1e6:.1f} MB on the wire): {elapsed:.2f} s")
    assert elapsed < 30
