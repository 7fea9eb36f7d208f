"""Bounce handling: read delivery status notifications (RFC 3464) and suppress hard-bounced addresses.

Contract:
- `parse_bounce(raw)` reads a message that came back to our envelope sender. A standard DSN
  (multipart/report; report-type=delivery-status) is parsed field by field: per recipient the Original-
  and Final-Recipient, Action, Status, Diagnostic-Code and Remote-MTA, plus the returned message's
  Message-ID. Anything else goes through flufl.bounce's heuristic detectors (Exim, qmail, Postfix, ...).
  Returns None when the message is not a bounce (an auto-reply, a human answer).
- Classification per recipient (`BounceKind`), from Action and the RFC 3463 status code:
  HARD: failed with 5.x.x about the address or its domain (5.1.1 no such user, 5.1.2 bad domain, 5.1.10
  null MX, 5.2.1 disabled mailbox, 5.4.4 unroutable, ...), or a permanent failure found heuristically.
  REJECTED: failed with 5.x.x about this message or our sending, not the address: 5.2.2 mailbox full,
  5.2.3 / 5.3.4 too large, 5.6.x content, 5.7.x policy/security (SPF, DMARC, spam). Suppressing those
  would silence good mailboxes because of our own problem, so they are reported, not suppressed.
  SOFT: delayed, or failed with 4.x.x (the remote gave up on a temporary condition).
  DELIVERED: delivered / relayed / expanded (success notices, when requested).
- `BounceProcessor.process(raw)` parses and adds every HARD address to the suppression list (first entry
  wins, with the status and diagnostic as its reason). Nothing else is suppressed.
"""

from __future__ import annotations

import base64
import email
import email.policy
import quopri
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser
from enum import StrEnum
from typing import Literal

from flufl.bounce import all_failures

from connectors.mail.addresses import normalize_address
from connectors.mail.errors import InvalidAddress
from connectors.mail.suppression import SuppressionEntry, SuppressionList
from infra.clock import Clock, SystemClock

_STATUS_RE = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})\b")
# "smtp; 550 5.1.1 <a@b>: no such user": the enhanced code right after the reply code.
_DIAGNOSTIC_STATUS_RE = re.compile(r"^\s*smtp\s*;\s*[245]\d\d[ -]([245])\.(\d{1,3})\.(\d{1,3})\b", re.IGNORECASE)
# 5.x.x codes that say nothing bad about the address itself (see module contract).
_NOT_ADDRESS_FAULTS = {"5.2.2", "5.2.3", "5.3.4"}
_NOT_ADDRESS_SUBJECTS = {"6", "7"}


class BounceKind(StrEnum):
    HARD = "hard"
    REJECTED = "rejected"
    SOFT = "soft"
    DELIVERED = "delivered"


@dataclass(frozen=True, slots=True)
class RecipientReport:
    """What a bounce says about one recipient. `address`: normalized Original- (else Final-) Recipient,
    None when neither is a usable address."""

    address: str | None
    action: str
    status: str | None
    kind: BounceKind
    final_recipient: str | None = None
    original_recipient: str | None = None
    diagnostic: str | None = None
    remote_mta: str | None = None


@dataclass(frozen=True, slots=True)
class BounceReport:
    """One bounce message, read."""

    source: Literal["dsn", "heuristic"]
    recipients: tuple[RecipientReport, ...]
    original_message_id: str | None = None
    original_envelope_id: str | None = None
    reporting_mta: str | None = None

    def of_kind(self, kind: BounceKind) -> tuple[RecipientReport, ...]:
        return tuple(r for r in self.recipients if r.kind is kind)


def classify(action: str, status: str | None) -> BounceKind:
    """The `BounceKind` of one per-recipient block (see module contract)."""
    verb = action.strip().lower().split(" ", 1)[0].split("(", 1)[0]
    if verb in {"delivered", "relayed", "expanded"}:
        return BounceKind.DELIVERED
    if verb == "delayed":
        return BounceKind.SOFT
    # "error" is what OpenSMTPD writes instead of the standard "failed".
    if verb not in {"failed", "error"}:
        return BounceKind.SOFT
    if status is None:
        return BounceKind.HARD  # Action: failed is explicit even when the (mandatory) Status is missing
    klass, subject, _detail = status.split(".")
    if klass == "4":
        return BounceKind.SOFT
    if klass == "2":
        return BounceKind.DELIVERED
    if status in _NOT_ADDRESS_FAULTS or subject in _NOT_ADDRESS_SUBJECTS:
        return BounceKind.REJECTED
    return BounceKind.HARD


def parse_bounce(raw: bytes | Message) -> BounceReport | None:
    """Read a returned message (see module contract); None when it is not a bounce."""
    message = email.message_from_bytes(raw, policy=email.policy.compat32) if isinstance(raw, bytes) else raw
    report = parse_dsn(message)
    if report is not None:
        return report
    return _heuristic(message)


def parse_dsn(message: Message) -> BounceReport | None:
    """The RFC 3464 report in `message`; None when it is not a multipart/report of delivery-status."""
    if message.get_content_type() != "multipart/report":
        return None
    if str(message.get_param("report-type", "")).lower() != "delivery-status":
        return None
    status_part = next((p for p in message.walk() if p.get_content_type() == "message/delivery-status"), None)
    if status_part is None:
        return None
    blocks = list(_field_blocks(status_part))
    if not blocks:
        return None
    per_message, per_recipient = blocks[0], blocks[1:]
    recipients = tuple(_recipient(block) for block in per_recipient if block.get("Action"))
    return BounceReport(
        source="dsn",
        recipients=recipients,
        original_message_id=_returned_message_id(message),
        original_envelope_id=_clean(per_message.get("Original-Envelope-Id")),
        reporting_mta=_typed_value(per_message.get("Reporting-MTA")),
    )


def _field_blocks(part: Message) -> Iterator[Message]:
    """The header blocks of a message/delivery-status part, however the parser left its payload."""
    payload = part.get_payload()
    encoding = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
    if isinstance(payload, list) and encoding not in {"base64", "quoted-printable"}:
        # The email package already split the body into one Message per block.
        yield from (block for block in payload if isinstance(block, Message))
        return
    # Some MTAs encode the part; the package then "parses" the encoded text, so decode and split ourselves.
    pieces = payload if isinstance(payload, list) else [payload]
    raw = "".join(b.as_string() if isinstance(b, Message) else str(b) for b in pieces)
    if encoding == "base64":
        text = base64.b64decode(raw.encode("ascii", "ignore")).decode("utf-8", "replace")
    elif encoding == "quoted-printable":
        text = quopri.decodestring(raw.encode("utf-8", "replace")).decode("utf-8", "replace")
    else:
        text = raw
    for chunk in re.split(r"\r?\n\s*\r?\n", text.strip()):
        if chunk.strip():
            yield HeaderParser().parsestr(chunk.strip() + "\n")


def _recipient(block: Message) -> RecipientReport:
    action = str(block.get("Action", "")).strip().lower()
    status = _status(block.get("Status"), _STATUS_RE) or _status(block.get("Diagnostic-Code"), _DIAGNOSTIC_STATUS_RE)
    final = _typed_value(block.get("Final-Recipient"))
    original = _typed_value(block.get("Original-Recipient"))
    return RecipientReport(
        address=_usable_address(original) or _usable_address(final),
        action=action,
        status=status,
        kind=classify(action, status),
        final_recipient=final,
        original_recipient=original,
        diagnostic=_clean(block.get("Diagnostic-Code")),
        remote_mta=_typed_value(block.get("Remote-MTA")),
    )


def _heuristic(message: Message) -> BounceReport | None:
    """flufl.bounce's detectors for non-standard bounces (they report permanent and temporary failures)."""
    temporary, permanent = all_failures(message)
    recipients = [
        RecipientReport(address=_usable_address(raw.decode("ascii")), action="failed", status=None, kind=kind)
        for kind, found in ((BounceKind.HARD, permanent), (BounceKind.SOFT, temporary))
        for raw in sorted(found)
    ]
    if not recipients:
        return None
    return BounceReport(source="heuristic", recipients=tuple(recipients), original_message_id=None)


def _returned_message_id(message: Message) -> str | None:
    """Message-ID of the returned original (message/rfc822 or text/rfc822-headers part), to match our log."""
    for part in message.walk():
        content_type = part.get_content_type()
        if content_type == "message/rfc822":
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                return _clean(inner[0].get("Message-ID"))
        elif content_type == "text/rfc822-headers":
            body = part.get_payload(decode=True)
            if isinstance(body, bytes):
                headers = HeaderParser().parsestr(body.decode("utf-8", "replace"))
                return _clean(headers.get("Message-ID"))
    return None


def _status(value: object, pattern: re.Pattern[str]) -> str | None:
    match = pattern.search(str(value)) if value is not None else None
    return ".".join(match.groups()) if match else None


def _typed_value(value: object) -> str | None:
    """'rfc822; user@example.com' -> 'user@example.com' (DSN fields carry an address/MTA type)."""
    text = _clean(value)
    if text is None:
        return None
    return text.split(";", 1)[1].strip() if ";" in text else text


def _clean(value: object) -> str | None:
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text or None


def _usable_address(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return normalize_address(value.strip("<>"))
    except InvalidAddress:
        return None


@dataclass(frozen=True, slots=True)
class BounceOutcome:
    report: BounceReport | None
    newly_suppressed: tuple[str, ...]


class BounceProcessor:
    """Parses returned mail and suppresses hard-bounced addresses (see module contract)."""

    def __init__(self, suppression: SuppressionList, clock: Clock | None = None) -> None:
        self._suppression = suppression
        self._clock = clock or SystemClock()

    async def process(self, raw: bytes | Message) -> BounceOutcome:
        report = parse_bounce(raw)
        if report is None:
            return BounceOutcome(None, ())
        added: list[str] = []
        for recipient in report.of_kind(BounceKind.HARD):
            if recipient.address is None:
                continue
            reason = recipient.diagnostic or f"permanent failure ({report.source})"
            entry = SuppressionEntry(
                address=recipient.address,
                reason=reason,
                suppressed_at=self._clock.now(),
                status=recipient.status,
                source=f"bounce:{report.source}",
            )
            if await self._suppression.add(entry):
                added.append(recipient.address)
        return BounceOutcome(report, tuple(added))
