"""Composition: MIME structure, headers, RFC 2231 file names, size measured on the wire, link instead."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable
from email.message import EmailMessage

import pytest

from connectors.mail.compose import (
    MAIL_POLICY,
    Attachment,
    MailComposer,
    MailRequest,
    base64_size,
    safe_filename,
    serialize,
)
from connectors.mail.errors import MessageTooLarge, NoRecipients
from connectors.mail.settings import SPEC_MAX_MESSAGE_BYTES
from tests.unit.connectors_mail.conftest import mail_settings, report_content

CHINESE_NAME = "2026年1月營運報表.pdf"


def parse(wire: bytes) -> EmailMessage:
    message = email.message_from_bytes(wire, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def request(*attachments: Attachment, **kwargs: object) -> MailRequest:
    return MailRequest(to=("Wang@Example.com",), content=report_content(), attachments=attachments, **kwargs)  # type: ignore[arg-type]


async def test_structure_and_headers(make_composer: Callable[..., MailComposer]) -> None:
    pdf = Attachment(CHINESE_NAME, b"%PDF-1.7 fake", "application/pdf")
    composed = await make_composer().compose(
        request(pdf, cc=("boss@example.com", "wang@example.com"), bcc=("audit@luckygas.com",))
    )
    assert composed.recipients == ("wang@example.com", "boss@example.com", "audit@luckygas.com")
    parsed = parse(composed.wire)
    assert parsed.get_content_type() == "multipart/mixed"
    alternative, attachment = parsed.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in alternative.iter_parts()] == ["text/plain", "text/html"]
    assert attachment.get_filename() == CHINESE_NAME
    assert attachment.get_content() == b"%PDF-1.7 fake"
    assert str(parsed["Subject"]).startswith("【幸運瓦斯】報表已產生")
    assert parsed["From"].addresses[0].display_name == "幸運瓦斯 Lucky Gas"
    assert parsed["From"].addresses[0].addr_spec == "reports@luckygas.com"
    assert str(parsed["To"]) == "wang@example.com"
    assert str(parsed["Cc"]) == "boss@example.com"  # the To duplicate is dropped
    assert parsed["Bcc"] is None  # envelope only
    assert parsed["Message-ID"] == composed.message_id and composed.message_id.endswith("@luckygas.com>")
    assert parsed["Date"].datetime.utcoffset().total_seconds() == 8 * 3600
    assert parsed["Date"].datetime.isoformat() == "2026-01-15T10:30:00+08:00"
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed["Content-Language"] == "zh-TW"


async def test_wire_form_is_7bit_crlf_with_rfc2231_filename(make_composer: Callable[..., MailComposer]) -> None:
    composed = await make_composer().compose(request(Attachment(CHINESE_NAME, b"x" * 100, "application/pdf")))
    wire = composed.wire
    assert wire.isascii()  # no 8BITMIME needed
    assert b"\n" not in wire.replace(b"\r\n", b"")  # CRLF everywhere
    assert b"filename*0*=utf-8''2026%E5%B9%B41%E6%9C%88" in wire  # RFC 2231 (with continuation)
    assert b"Subject: =?utf-8?" in wire  # RFC 2047
    assert composed.size == len(wire) == len(serialize(composed.message))


async def test_no_attachment_is_just_alternative(make_composer: Callable[..., MailComposer]) -> None:
    composed = await make_composer().compose(request())
    assert parse(composed.wire).get_content_type() == "multipart/alternative"


async def test_no_recipients(make_composer: Callable[..., MailComposer]) -> None:
    with pytest.raises(NoRecipients):
        await make_composer().compose(MailRequest(to=(), content=report_content()))


async def test_oversize_attachment_becomes_its_archive_url(make_composer: Callable[..., MailComposer]) -> None:
    settings = mail_settings(max_message_bytes=256 * 1024)
    big = Attachment("全年明細.xlsx", b"\x00" * 300_000, archive_url="https://archive.luckygas.com/f/1")
    small = Attachment("summary.csv", b"a,b\n1,2\n", "text/csv")
    composed = await make_composer(settings).compose(request(big, small))
    assert composed.size <= 256 * 1024
    assert [a.filename for a in composed.archived] == ["全年明細.xlsx"]
    parsed = parse(composed.wire)
    assert [p.get_filename() for p in parsed.iter_attachments()] == ["summary.csv"]
    # MIME text is canonically CRLF; compare lines.
    text = parsed.get_body(("plain",)).get_content().replace("\r\n", "\n")  # type: ignore[union-attr]
    assert "以下附件超過郵件大小上限（256.0 KB）" in text
    assert "- 全年明細.xlsx（293.0 KB）：https://archive.luckygas.com/f/1" in text
    assert "報表已附於此郵件：summary.csv" in text  # only what is really attached is called attached


async def test_largest_attachment_goes_first_and_callable_links(make_composer: Callable[..., MailComposer]) -> None:
    archived_names: list[str] = []

    async def archive(attachment: Attachment) -> str:
        archived_names.append(attachment.filename)
        return f"https://archive.luckygas.com/{len(archived_names)}"

    settings = mail_settings(max_message_bytes=256 * 1024)
    a = Attachment("a.bin", b"\x01" * 120_000)
    b = Attachment("b.bin", b"\x02" * 150_000)
    composed = await make_composer(settings, archive_link=archive).compose(request(a, b))
    # Both together (~360 KB encoded) do not fit; removing the larger one is enough.
    assert archived_names == ["b.bin"]
    assert [p.get_filename() for p in parse(composed.wire).iter_attachments()] == ["a.bin"]


async def test_oversize_without_link_is_refused(make_composer: Callable[..., MailComposer]) -> None:
    settings = mail_settings(max_message_bytes=128 * 1024)
    with pytest.raises(MessageTooLarge, match="no archive_url and no archive_link"):
        await make_composer(settings).compose(request(Attachment("big.bin", b"\x00" * 200_000)))


async def test_spec_limit_is_measured_encoded(make_composer: Callable[..., MailComposer]) -> None:
    """25 MiB on the wire: base64 + CRLF every 76 columns grow an attachment by 78/57, so ~19.1 MB raw is
    the most that can be attached; a 20 MB file (27.4 MB encoded) and a 25 MiB one are linked instead."""
    composer = make_composer()  # the default limit: SPEC_MAX_MESSAGE_BYTES on the wire
    nineteen = await composer.compose(request(Attachment("19MB.bin", b"\x00" * 19_000_000)))
    assert nineteen.archived == ()
    assert 26_000_000 < nineteen.size <= SPEC_MAX_MESSAGE_BYTES
    for raw in (20_000_000, 25 * 1024 * 1024):
        linked = await composer.compose(request(Attachment("big.bin", b"\x00" * raw, archive_url="https://a.example/x")))
        assert [a.size_bytes for a in linked.archived] == [raw]
        assert linked.size < 100_000


def test_safe_filename() -> None:
    assert safe_filename("../../etc/passwd") == "passwd"
    assert safe_filename("C:\\Users\\報表.pdf") == "報表.pdf"
    assert safe_filename("bad\r\nname.pdf") == "badname.pdf"
    with pytest.raises(ValueError, match="empty"):
        Attachment("../", b"")


@pytest.mark.parametrize("raw", [0, 1, 56, 57, 58, 1000, 19_000_000])
def test_base64_size_is_exact(raw: int) -> None:
    message = EmailMessage(policy=MAIL_POLICY)
    message.set_content(b"\xff" * raw, maintype="application", subtype="octet-stream")
    body = serialize(message).split(b"\r\n\r\n", 1)[1]
    assert base64_size(raw) == len(body)
