"""Typed errors of the email connector.

Two families: errors raised before anything is sent (bad input, configuration, every recipient
suppressed, a message that cannot be made to fit the size limit), after which nothing reached the server;
and transport errors raised by `MailSender` after it was refused or gave up. Every error raised on purpose
is a `MailError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class MailError(Exception):
    """Base class of every error this connector raises on purpose."""


# --- refused before sending --------------------------------------------------------------------------


class MailConfigError(MailError):
    """The connector is configured in a way that cannot work (e.g. no OAuth2 token source)."""


class InvalidAddress(MailError, ValueError):
    """A mail address is malformed (see `addresses.normalize_address`)."""

    def __init__(self, text: str, reason: str) -> None:
        self.text = text
        self.reason = reason
        super().__init__(f"invalid mail address {text!r}: {reason}")


class TemplateError(MailError):
    """A template is missing, or rendering produced something unusable (e.g. a multi-line subject)."""


class NoRecipients(MailError):
    """The request names no recipient at all."""


class AllRecipientsSuppressed(MailError):
    """Every recipient is on the suppression list (hard bounce); nothing was sent, no connection made."""

    def __init__(self, addresses: Sequence[str]) -> None:
        self.addresses = tuple(addresses)
        super().__init__(f"all recipients are suppressed after permanent bounces: {', '.join(self.addresses)}")


class MessageTooLarge(MailError):
    """The encoded message exceeds the size limit and cannot be made to fit.

    Raised when an oversize attachment has no archive link (no `archive_url` and no `archive_link`
    callable), or when the message is still too large with every attachment replaced by a link.
    """

    def __init__(self, size: int, limit: int, reason: str) -> None:
        self.size = size
        self.limit = limit
        super().__init__(f"encoded message is {size:,} bytes, over the {limit:,}-byte limit: {reason}")


# --- transport: refused or unreachable -----------------------------------------------------------------


class MailTransportError(MailError):
    """The server refused, or could not be reached; `code` is the last SMTP reply code, if any."""

    def __init__(self, message: str, code: int | None = None) -> None:
        self.code = code
        super().__init__(message)


class MailTlsError(MailTransportError):
    """STARTTLS is not offered or the TLS handshake / certificate verification failed. Not retried:
    credentials are never sent over an unverified connection."""


class MailAuthError(MailTransportError):
    """XOAUTH2 was refused (or not offered). Not retried with the same token."""


@dataclass(frozen=True, slots=True)
class RecipientRefusal:
    """One recipient the server did not accept; `permanent` for 5xx, else the last 4xx after retries."""

    address: str
    code: int
    message: str
    permanent: bool


class MailRejected(MailTransportError):
    """A permanent (5xx) refusal: of the sender, of the data, or of every recipient. Not retried."""

    def __init__(self, message: str, code: int | None = None, refusals: Sequence[RecipientRefusal] = ()) -> None:
        self.refusals = tuple(refusals)
        super().__init__(message, code)


class MailUnavailable(MailTransportError):
    """Retries exhausted on connection errors, timeouts or 4xx replies; `attempts` transactions were tried.

    Nothing was accepted for the recipients still pending: resending later is safe for them.
    """

    def __init__(self, message: str, attempts: int, code: int | None = None) -> None:
        self.attempts = attempts
        super().__init__(message, code)
