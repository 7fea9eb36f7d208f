"""Build the MIME message of a mail request, within the size limit measured on the wire.

Contract of `MailComposer.compose(request) -> ComposedMail`:
- Structure: multipart/mixed > (multipart/alternative > text/plain, text/html) + one part per attachment
  (just multipart/alternative when there is none). Every part is 7-bit clean (base64 or
  quoted-printable), so the message needs no 8BITMIME and its size does not depend on the server.
- Headers: From (display name + sender address), To/Cc (Bcc only in the envelope, never in a header),
  Reply-To when configured, Subject (RFC 2047 encoded when non-ASCII), Date (aware, from the clock),
  a fresh Message-ID on the sender's domain, Content-Language, and Auto-Submitted: auto-generated
  (RFC 3834, so vacation responders do not answer reports).
- Attachment file names are sanitized (no path, no control characters) and, when non-ASCII, encoded per
  RFC 2231 (filename*=utf-8''...), which every current client decodes.
- Size: the message is serialized exactly as it will be sent (SMTP policy, CRLF line ends) and measured.
  Over `max_message_bytes` (the spec's 25 MB), attachments are moved out, largest first, until it fits;
  each one moved is linked instead (its `archive_url`, else the URL the `archive_link` callable returns
  after archiving it), and the mail is re-rendered so that both parts say so and show the links.
  `MessageTooLarge` when an attachment must go but has no link, or nothing more can be moved.
- `ComposedMail.wire` holds the serialized bytes; the sender transmits exactly these.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from email.generator import BytesGenerator
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from io import BytesIO

from connectors.mail.addresses import normalize_all
from connectors.mail.content import MailContent
from connectors.mail.errors import MessageTooLarge, NoRecipients
from connectors.mail.rendering import ArchivedFile, MailTemplates, RenderedMail
from connectors.mail.settings import Language, MailSettings
from infra.clock import TAIPEI, Clock, SystemClock

# SMTP policy (CRLF, 78-column folding) with 7-bit output: set_content then picks base64 or
# quoted-printable for UTF-8 text instead of raw 8-bit.
MAIL_POLICY = SMTP.clone(cte_type="7bit")
_UNSAFE_FILENAME = re.compile(r"[\x00-\x1f\x7f/\\]")


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file to attach. `archive_url`: where it is already archived, used if it has to become a link."""

    filename: str
    content: bytes = field(repr=False)
    content_type: str = "application/octet-stream"
    archive_url: str | None = None

    def __post_init__(self) -> None:
        if "/" not in self.content_type or self.content_type.count("/") != 1:
            raise ValueError(f"content_type must be type/subtype: {self.content_type!r}")
        if not safe_filename(self.filename):
            raise ValueError(f"attachment file name is empty after sanitizing: {self.filename!r}")


# Archives an attachment that is too large to send (e.g. uploads it to the report bucket) and returns a
# link recipients can open.
ArchiveLinker = Callable[[Attachment], Awaitable[str]]


@dataclass(frozen=True, slots=True)
class MailRequest:
    """One mail to compose and send. Addresses are normalized; duplicates across To/Cc/Bcc are dropped."""

    to: tuple[str, ...]
    content: MailContent
    lang: Language = "zh-TW"
    cc: tuple[str, ...] = ()
    bcc: tuple[str, ...] = ()
    attachments: tuple[Attachment, ...] = ()

    @property
    def envelope_recipients(self) -> tuple[str, ...]:
        """Every recipient (To, Cc, Bcc) normalized, each once."""
        return normalize_all([*self.to, *self.cc, *self.bcc])

    def without(self, excluded: set[str]) -> MailRequest:
        """The same request with the (normalized) addresses in `excluded` removed from To, Cc and Bcc."""

        def keep(addresses: tuple[str, ...]) -> tuple[str, ...]:
            return tuple(a for a in normalize_all(addresses) if a not in excluded)

        return MailRequest(keep(self.to), self.content, self.lang, keep(self.cc), keep(self.bcc), self.attachments)


@dataclass(frozen=True, slots=True)
class ComposedMail:
    """A message ready to send: its MIME tree, its exact wire bytes, its envelope."""

    message: EmailMessage
    wire: bytes = field(repr=False)
    message_id: str
    recipients: tuple[str, ...]
    archived: tuple[ArchivedFile, ...]
    rendered: RenderedMail = field(repr=False)

    @property
    def size(self) -> int:
        return len(self.wire)


def safe_filename(name: str) -> str:
    """The base name without control characters or path separators (a path in a name is an attack)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return _UNSAFE_FILENAME.sub("", base).strip().strip(".")


def base64_size(raw_size: int) -> int:
    """Bytes of `raw_size` bytes in base64 as the email package writes it: 76 columns + CRLF per line."""
    chars = 4 * -(-raw_size // 3)
    return chars + 2 * -(-chars // 76)


def serialize(message: EmailMessage) -> bytes:
    """The bytes that go on the wire after DATA (before dot-stuffing), CRLF line ends."""
    buffer = BytesIO()
    BytesGenerator(buffer, policy=MAIL_POLICY).flatten(message)
    return buffer.getvalue()


class MailComposer:
    """Renders and assembles messages (see module contract)."""

    def __init__(
        self,
        settings: MailSettings,
        templates: MailTemplates,
        *,
        archive_link: ArchiveLinker | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._settings = settings
        self._templates = templates
        self._archive_link = archive_link
        self._clock = clock or SystemClock()

    async def compose(self, request: MailRequest) -> ComposedMail:
        """The message for `request`, linked instead of attached where needed to fit the size limit."""
        recipients = request.envelope_recipients
        if not recipients:
            raise NoRecipients("the mail request has no recipient")
        limit = self._settings.max_message_bytes
        attached = list(request.attachments)
        archived: list[ArchivedFile] = []
        message_id = make_msgid(domain=self._settings.sender_domain)
        # Serializing a 30 MB message takes a while: first move out what cannot fit by a lower bound of the
        # encoded size alone, then serialize and measure exactly.
        while attached and sum(base64_size(len(a.content)) for a in attached) > limit:
            biggest = max(attached, key=lambda a: len(a.content))
            attached.remove(biggest)
            archived.append(await self._link(biggest, base64_size(len(biggest.content)), limit))
        while True:
            rendered = self._templates.render(
                request.content,
                request.lang,
                archived=archived,
                attachment_names=[safe_filename(a.filename) for a in attached],
            )
            message = self._build(request, rendered, attached, message_id)
            wire = serialize(message)
            if len(wire) <= limit:
                return ComposedMail(message, wire, message_id, recipients, tuple(archived), rendered)
            if not attached:
                raise MessageTooLarge(len(wire), limit, "too large even with every attachment replaced by a link")
            # Largest first: the fewest recipients have to click a link instead of opening an attachment.
            biggest = max(attached, key=lambda a: len(a.content))
            attached.remove(biggest)
            archived.append(await self._link(biggest, len(wire), limit))

    async def _link(self, attachment: Attachment, size: int, limit: int) -> ArchivedFile:
        url = attachment.archive_url
        if url is None and self._archive_link is not None:
            url = await self._archive_link(attachment)
        if url is None:
            raise MessageTooLarge(
                size,
                limit,
                f"attachment {attachment.filename!r} ({len(attachment.content):,} bytes) would have to be "
                "linked, but it has no archive_url and no archive_link callable was given",
            )
        return ArchivedFile(safe_filename(attachment.filename), len(attachment.content), url)

    def _build(
        self, request: MailRequest, rendered: RenderedMail, attachments: Sequence[Attachment], message_id: str
    ) -> EmailMessage:
        settings = self._settings
        message = EmailMessage(policy=MAIL_POLICY)
        message["From"] = Address(display_name=settings.sender_name, addr_spec=settings.sender_address)
        to = normalize_all(request.to)
        cc = tuple(a for a in normalize_all(request.cc) if a not in to)
        if to:
            message["To"] = ", ".join(to)
        if cc:
            message["Cc"] = ", ".join(cc)
        if settings.reply_to:
            message["Reply-To"] = settings.reply_to
        message["Subject"] = rendered.subject
        # Taipei offset (+0800): the Date recipients see matches their clocks.
        message["Date"] = format_datetime(self._clock.now().astimezone(TAIPEI))
        message["Message-ID"] = message_id
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(rendered.text, subtype="plain", charset="utf-8")
        message.add_alternative(rendered.html, subtype="html", charset="utf-8")
        for attachment in attachments:
            maintype, subtype = attachment.content_type.split("/")
            message.add_attachment(
                attachment.content, maintype=maintype, subtype=subtype, filename=safe_filename(attachment.filename)
            )
        # Set last: turning the message multipart moves every Content-* header down into the first part.
        message["Content-Language"] = request.lang
        return message
