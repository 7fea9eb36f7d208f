"""MailSender against a real aiosmtpd submission server: STARTTLS + XOAUTH2, content, size, suppression."""

from __future__ import annotations

import email
import email.policy
import hashlib
import re
from email.message import EmailMessage

import aiosmtplib
import pytest
from pydantic import SecretStr

from connectors.mail.compose import Attachment, MailRequest
from connectors.mail.errors import (
    AllRecipientsSuppressed,
    MailAuthError,
    MailRejected,
    MailTlsError,
    MailUnavailable,
)
from connectors.mail.settings import StaticTokenProvider
from connectors.mail.suppression import InMemorySuppressionList, SuppressionEntry
from infra.clock import SystemClock
from tests.integration.connectors_mail.conftest import GOOD_TOKEN, SMTP_USER, SenderFactory, SmtpServer
from tests.unit.connectors_mail.conftest import kpi_content, report_content

pytestmark = pytest.mark.integration

CHINESE_NAME = "2026年1月營運報表.pdf"


def parse(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def body(message: EmailMessage, subtype: str) -> str:
    part = message.get_body((subtype,))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")


async def test_good_token_delivers_report(server: SmtpServer, make_sender: SenderFactory) -> None:
    pdf = b"%PDF-1.7\n" + bytes(range(256)) * 40
    request = MailRequest(
        to=("Wang@Example.com",),
        cc=("ops@example.com",),
        bcc=("audit@luckygas.com",),
        content=report_content(),
        attachments=(Attachment(CHINESE_NAME, pdf, "application/pdf"),),
    )
    result = await make_sender(server).send(request)

    assert result.accepted == ("wang@example.com", "ops@example.com", "audit@luckygas.com")
    assert (result.refused, result.suppressed, result.archived, result.attempts) == ((), (), (), 1)
    assert server.handler.logins == [(SMTP_USER, True)]
    (received,) = server.handler.messages
    assert received.mail_from == "bounces@luckygas.com"  # envelope sender = bounce address
    assert received.rcpt_tos == result.accepted
    assert received.auth_user == SMTP_USER
    assert len(received.data) == result.size_bytes

    message = parse(received.data)
    assert message["Message-ID"] == result.message_id
    assert str(message["Subject"]).startswith("【幸運瓦斯】報表已產生：月營運報表")
    assert message["Bcc"] is None
    html, text = body(message, "html"), body(message, "plain")
    assert re.search(r'<td class="header" style="[^"]*background-color: #c8102e', html)  # CSS inlined
    assert html.count('style="') > 15
    assert "幸運瓦斯 Lucky Gas" in html and "幸運瓦斯 Lucky Gas" in text
    assert "報表已附於此郵件：2026年1月營運報表.pdf" in text
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_filename() == CHINESE_NAME  # RFC 2231 decoded
    assert b"filename*0*=utf-8''2026%E5%B9%B41%E6%9C%88" in received.data
    assert attachment.get_content() == pdf


async def test_english_kpi_alert(server: SmtpServer, make_sender: SenderFactory) -> None:
    await make_sender(server).send(MailRequest(to=("cfo@example.com",), content=kpi_content(), lang="en"))
    message = parse(server.handler.messages[0].data)
    assert str(message["Subject"]) == "[Lucky Gas] CRITICAL: 每日配送量 at 812 桶, below threshold 1,000 桶"
    assert message["Content-Language"] == "en"
    assert "Open the live dashboard" in body(message, "html")


async def test_bad_token_is_refused(server: SmtpServer, make_sender: SenderFactory) -> None:
    sender = make_sender(server, token_provider=StaticTokenProvider(SecretStr("ya29.expired-or-wrong")))
    with pytest.raises(MailAuthError, match="535") as caught:
        await sender.send(MailRequest(to=("wang@example.com",), content=report_content()))
    assert caught.value.code == 535
    assert server.handler.logins == [(SMTP_USER, False)]  # tried once: a refused token is not retried
    assert server.handler.messages == []


async def test_wrong_user_is_refused(server: SmtpServer, make_sender: SenderFactory) -> None:
    sender = make_sender(server, oauth_user="someone-else@luckygas.com")
    with pytest.raises(MailAuthError):
        await sender.send(MailRequest(to=("wang@example.com",), content=report_content()))
    assert server.handler.messages == []


async def test_server_refuses_plaintext_before_starttls(server: SmtpServer) -> None:
    """The server side of the contract: without STARTTLS neither AUTH nor MAIL is possible."""
    smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=server.port, start_tls=False, local_hostname="client.test")
    await smtp.connect()
    try:
        await smtp.ehlo()
        assert "starttls" in smtp.esmtp_extensions
        assert "auth" not in smtp.esmtp_extensions  # AUTH is not even advertised before TLS
        with pytest.raises(aiosmtplib.SMTPResponseException) as auth_refused:
            await smtp.auth_xoauth2(SMTP_USER, GOOD_TOKEN)
        assert auth_refused.value.code == 530
        with pytest.raises(aiosmtplib.SMTPSenderRefused) as mail_refused:
            await smtp.sendmail("bounces@luckygas.com", ["wang@example.com"], b"Subject: x\r\n\r\nx\r\n")
        assert mail_refused.value.code == 530
    finally:
        smtp.close()
    assert server.handler.logins == [] and server.handler.messages == []


async def test_sender_refuses_server_without_starttls(plain_server: SmtpServer, make_sender: SenderFactory) -> None:
    plain_server.handler.reset()
    sender = make_sender(plain_server)
    with pytest.raises(MailTlsError, match="does not offer STARTTLS"):
        await sender.send(MailRequest(to=("wang@example.com",), content=report_content()))
    assert plain_server.handler.logins == []  # the token never crossed a plaintext connection


async def test_untrusted_certificate_is_refused(
    server: SmtpServer, make_sender: SenderFactory, tmp_path_factory: pytest.TempPathFactory
) -> None:
    import trustme

    other_ca = tmp_path_factory.mktemp("other") / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    sender = make_sender(server, ca_file=other_ca)
    with pytest.raises(MailTlsError, match="certificate"):
        await sender.send(MailRequest(to=("wang@example.com",), content=report_content()))
    assert server.handler.logins == []


async def test_oversize_attachment_is_linked(server: SmtpServer, make_sender: SenderFactory) -> None:
    archived: list[str] = []

    async def archive(attachment: Attachment) -> str:
        archived.append(attachment.filename)
        return "https://archive.luckygas.com/files/2026/annual.xlsx"

    raw = 25 * 1024 * 1024  # 33.8 MiB encoded: over our 25 MiB, under the server's 40 MiB
    annual = Attachment("2026年全年明細.xlsx", b"\x5a" * raw, "application/vnd.ms-excel")
    result = await make_sender(server, archive_link=archive).send(
        MailRequest(to=("wang@example.com",), content=report_content(), attachments=(annual,))
    )
    assert archived == ["2026年全年明細.xlsx"]
    assert [a.url for a in result.archived] == ["https://archive.luckygas.com/files/2026/annual.xlsx"]
    (received,) = server.handler.messages
    assert len(received.data) < 100_000
    message = parse(received.data)
    assert list(message.iter_attachments()) == []
    text = body(message, "plain")
    assert "以下附件超過郵件大小上限（25.0 MB）" in text
    assert "- 2026年全年明細.xlsx（25.0 MB）：https://archive.luckygas.com/files/2026/annual.xlsx" in text
    assert 'href="https://archive.luckygas.com/files/2026/annual.xlsx"' in body(message, "html")


async def test_largest_attachment_that_fits_arrives_intact(server: SmtpServer, make_sender: SenderFactory) -> None:
    content = hashlib.sha256(b"seed").digest() * (19_000_000 // 32)  # 19 MB: 26.0 MB on the wire, under 25 MiB
    result = await make_sender(server).send(
        MailRequest(to=("wang@example.com",), content=report_content(), attachments=(Attachment("明細.bin", content),))
    )
    assert result.archived == () and 26_000_000 < result.size_bytes <= 25 * 1024 * 1024
    (attachment,) = list(parse(server.handler.messages[0].data).iter_attachments())
    assert attachment.get_content() == content


async def test_suppressed_addresses_are_never_mailed(server: SmtpServer, make_sender: SenderFactory) -> None:
    suppression = InMemorySuppressionList()
    await suppression.add(SuppressionEntry("gone@example.net", "550 5.1.1", SystemClock().now(), "5.1.1"))
    sender = make_sender(server, suppression=suppression)

    with pytest.raises(AllRecipientsSuppressed):
        await sender.send(MailRequest(to=("Gone@Example.net",), content=report_content()))
    assert server.handler.logins == [] and server.handler.messages == []  # no connection at all

    result = await sender.send(MailRequest(to=("gone@example.net", "wang@example.com"), content=report_content()))
    assert (result.accepted, result.suppressed) == (("wang@example.com",), ("gone@example.net",))
    (received,) = server.handler.messages
    assert received.rcpt_tos == ("wang@example.com",)
    assert b"gone@example.net" not in received.data  # not in To either


async def test_transient_replies_are_retried_permanent_ones_not(
    server: SmtpServer, make_sender: SenderFactory
) -> None:
    server.handler.rcpt_script["greylisted@example.com"] = ["450 4.2.0 Greylisted, try again later"]
    server.handler.rcpt_script["nobody@example.com"] = ["550 5.1.1 No such user"]
    server.handler.data_script.append("451 4.3.0 Temporary local problem")
    result = await make_sender(server).send(
        MailRequest(to=("wang@example.com", "greylisted@example.com", "nobody@example.com"), content=report_content())
    )
    # Attempt 1: RCPT greylisted 450, nobody 550, DATA 451. Attempt 2: wang + greylisted accepted.
    assert result.attempts == 2
    assert set(result.accepted) == {"wang@example.com", "greylisted@example.com"}
    assert [(r.address, r.code, r.permanent) for r in result.refused] == [("nobody@example.com", 550, True)]
    (received,) = server.handler.messages
    assert set(received.rcpt_tos) == {"wang@example.com", "greylisted@example.com"}


async def test_all_permanent_refusals_raise(server: SmtpServer, make_sender: SenderFactory) -> None:
    server.handler.rcpt_script["nobody@example.com"] = ["550 5.1.1 No such user"]
    with pytest.raises(MailRejected, match="550") as caught:
        await make_sender(server).send(MailRequest(to=("nobody@example.com",), content=report_content()))
    assert [r.address for r in caught.value.refusals] == ["nobody@example.com"]
    assert server.handler.logins == [(SMTP_USER, True)]  # one transaction, no retry


async def test_data_5xx_is_permanent(server: SmtpServer, make_sender: SenderFactory) -> None:
    server.handler.data_script.extend(["554 5.6.0 Message content rejected"] * 3)
    with pytest.raises(MailRejected, match="554"):
        await make_sender(server).send(MailRequest(to=("wang@example.com",), content=report_content()))
    assert len(server.handler.data_script) == 2  # DATA was tried once


async def test_persistent_4xx_gives_up(server: SmtpServer, make_sender: SenderFactory) -> None:
    server.handler.data_script.extend(["452 4.3.1 Insufficient system storage"] * 5)
    with pytest.raises(MailUnavailable) as caught:
        await make_sender(server, max_retries=2).send(MailRequest(to=("wang@example.com",), content=report_content()))
    assert (caught.value.attempts, caught.value.code) == (3, 452)
    assert server.handler.messages == []


async def test_unreachable_server_gives_up(server: SmtpServer, make_sender: SenderFactory) -> None:
    from tests.integration.connectors_sms.conftest import free_port

    sender = make_sender(server, port=free_port(), max_retries=1)
    with pytest.raises(MailUnavailable, match="cannot connect") as caught:
        await sender.send(MailRequest(to=("wang@example.com",), content=report_content()))
    assert caught.value.attempts == 2


async def test_one_connection_is_reused_and_token_fetched_per_connection(
    server: SmtpServer, make_sender: SenderFactory
) -> None:
    calls = 0

    async def token() -> str:
        nonlocal calls
        calls += 1
        return GOOD_TOKEN

    sender = make_sender(server, token_provider=token, max_messages_per_connection=3)
    for i in range(5):
        await sender.send(MailRequest(to=(f"user{i}@example.com",), content=kpi_content()))
    assert len(server.handler.messages) == 5
    assert calls == 2 == len(server.handler.logins)  # 3 on the first connection, 2 on the second
