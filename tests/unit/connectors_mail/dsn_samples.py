"""Delivery status notifications written by RFC 3464 (and one qmail QSBMF bounce), for the bounce tests.

`build_dsn` assembles a multipart/report; report-type=delivery-status with a human-readable part, the
machine-readable message/delivery-status part (per-message fields, then one block per recipient) and the
returned original: its headers (text/rfc822-headers) or the whole message (message/rfc822).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

BOUNDARY = "dsn-boundary-7f3a"
OUR_BOUNCE_ADDRESS = "bounces@luckygas.com"


@dataclass(frozen=True)
class DsnRecipient:
    final: str
    action: str
    status: str | None
    diagnostic: str | None = None
    original: str | None = None
    remote_mta: str | None = "dns; mx1.example.net"


def _recipient_block(r: DsnRecipient) -> str:
    lines = []
    if r.original is not None:
        lines.append(f"Original-Recipient: rfc822;{r.original}")
    lines.append(f"Final-Recipient: rfc822; {r.final}")
    lines.append(f"Action: {r.action}")
    if r.status is not None:
        lines.append(f"Status: {r.status}")
    if r.remote_mta is not None:
        lines.append(f"Remote-MTA: {r.remote_mta}")
    if r.diagnostic is not None:
        lines.append(f"Diagnostic-Code: {r.diagnostic}")
    return "\r\n".join(lines)


def build_dsn(
    recipients: list[DsnRecipient],
    *,
    original_message_id: str = "<20260115.1@luckygas.com>",
    envelope_id: str | None = "lg-report-0001",
    returned_message: bytes | None = None,
    base64_status: bool = False,
) -> bytes:
    """A DSN about `recipients`; returns the whole original when `returned_message` is given, else its headers."""
    per_message = ["Reporting-MTA: dns; mx1.example.net", "Arrival-Date: Thu, 15 Jan 2026 10:30:00 +0800"]
    if envelope_id is not None:
        per_message.insert(1, f"Original-Envelope-Id: {envelope_id}")
    status_body = "\r\n".join(per_message) + "\r\n\r\n" + "\r\n\r\n".join(_recipient_block(r) for r in recipients)
    status_body += "\r\n"
    if base64_status:
        encoded = base64.encodebytes(status_body.encode("ascii")).decode("ascii").replace("\n", "\r\n")
        status_part = f"Content-Type: message/delivery-status\r\nContent-Transfer-Encoding: base64\r\n\r\n{encoded}"
    else:
        status_part = f"Content-Type: message/delivery-status\r\n\r\n{status_body}"
    if returned_message is not None:
        returned = "Content-Type: message/rfc822\r\n\r\n" + returned_message.decode("ascii")
    else:
        returned = (
            "Content-Type: text/rfc822-headers\r\n\r\n"
            f"From: =?utf-8?b?5bm46YGL55Om5pav?= Lucky Gas <reports@luckygas.com>\r\n"
            f"To: {recipients[0].final}\r\n"
            "Subject: =?utf-8?b?44CQ5bm46YGL55Om5pav44CR?=\r\n"
            f"Message-ID: {original_message_id}\r\n"
            "Date: Thu, 15 Jan 2026 10:29:58 +0800\r\n"
        )
    human = (
        "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
        "This is the mail system at host mx1.example.net.\r\n\r\n"
        "I'm sorry to have to inform you that your message could not\r\n"
        "be delivered to one or more recipients.\r\n"
    )
    head = (
        "From: Mail Delivery System <MAILER-DAEMON@mx1.example.net>\r\n"
        f"To: {OUR_BOUNCE_ADDRESS}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Date: Thu, 15 Jan 2026 10:30:02 +0800\r\n"
        "Message-ID: <dsn.20260115103002@mx1.example.net>\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{BOUNDARY}"\r\n\r\n'
        "This is a MIME-encapsulated message.\r\n\r\n"
    )
    parts = [human, status_part, returned]
    body = "".join(f"--{BOUNDARY}\r\n{part}\r\n" for part in parts) + f"--{BOUNDARY}--\r\n"
    return (head + body).encode("ascii")


def user_unknown(address: str, **kwargs: object) -> bytes:
    """The most common hard bounce: 550 5.1.1 user unknown."""
    return build_dsn(
        [
            DsnRecipient(
                final=address,
                action="failed",
                status="5.1.1",
                diagnostic=f"smtp; 550 5.1.1 <{address}>: Recipient address rejected: User unknown",
            )
        ],
        **kwargs,  # type: ignore[arg-type]
    )


QMAIL_BOUNCE = (
    b"From: MAILER-DAEMON@mail.example.org\r\n"
    b"To: bounces@luckygas.com\r\n"
    b"Subject: failure notice\r\n"
    b"Date: Thu, 15 Jan 2026 10:31:00 +0800\r\n"
    b"\r\n"
    b"Hi. This is the qmail-send program at mail.example.org.\r\n"
    b"I'm afraid I wasn't able to deliver your message to the following addresses.\r\n"
    b"This is a permanent error; I've given up. Sorry it didn't work out.\r\n"
    b"\r\n"
    b"<gone@example.org>:\r\n"
    b"Sorry, no mailbox here by that name. (#5.1.1)\r\n"
    b"\r\n"
    b"--- Below this line is a copy of the message.\r\n"
    b"\r\n"
    b"Subject: report\r\n"
)

HUMAN_REPLY = (
    b"From: Wang <wang@example.com>\r\n"
    b"To: reports@luckygas.com\r\n"
    b"Subject: Re: report\r\n"
    b"Date: Thu, 15 Jan 2026 11:00:00 +0800\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"Thanks, got the report. See you tomorrow.\r\n"
)
