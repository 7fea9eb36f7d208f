"""Typed errors of the SMS connector.

Two families: content errors (raised before anything is sent, so nothing is lost or half-sent: the caller
fixes the alert and tries again) and gateway errors (raised by the client after it gave up or was refused).
Every error raised on purpose is an `SmsError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


class SmsError(Exception):
    """Base class of every error this connector raises on purpose."""


# --- content: refused before sending ---------------------------------------------------------------


class InvalidRecipient(SmsError):
    """The number is not a Taiwan mobile number in E.164 form (+8869 followed by 8 digits)."""

    def __init__(self, number: str) -> None:
        self.number = number
        super().__init__(f"not a Taiwan mobile number in +8869xxxxxxxx form: {number!r}")


class EmptyMessage(SmsError):
    """The text is empty or only whitespace."""

    def __init__(self) -> None:
        super().__init__("SMS text is empty")


@dataclass(frozen=True, slots=True)
class PolicyFinding:
    """One thing in a text that carriers would block: a link off our domain, or a phone number."""

    kind: Literal["url", "phone"]
    text: str

    def __str__(self) -> str:
        return f"{'link' if self.kind == 'url' else 'phone number'} {self.text!r}"


class ContentRefused(SmsError):
    """The text holds a link to a domain other than our registered short domain, or a phone number.

    Since 2024-11-18 Taiwan's NCC rules make carriers drop SMS that carry URLs, short URLs or phone numbers
    not registered in advance, so such a message is refused here instead of silently vanishing.
    """

    def __init__(self, findings: tuple[PolicyFinding, ...], allowed_domain: str) -> None:
        if not findings:
            raise ValueError("ContentRefused needs at least one finding")
        self.findings = findings
        self.allowed_domain = allowed_domain
        shown = ", ".join(str(f) for f in findings)
        super().__init__(
            f"SMS refused: it contains {shown}; only links on the registered short domain "
            f"{allowed_domain!r} may appear and no phone numbers (Taiwan NCC rule since 2024-11-18)"
        )


class MessageTooLong(SmsError):
    """The rendered text needs more segments than allowed (units counted in its encoding)."""

    def __init__(self, what: str, encoding: str, units: int, segments: int, max_segments: int) -> None:
        self.what = what
        self.encoding = encoding
        self.units = units
        self.segments = segments
        self.max_segments = max_segments
        super().__init__(
            f"{what} needs {segments} SMS segment(s) ({units} {encoding} units) but at most "
            f"{max_segments} allowed: shorten its parameters"
        )


class TemplateParameterError(SmsError):
    """A template parameter is missing, empty, or of a form the template does not accept."""


# --- gateway: refused or unreachable ----------------------------------------------------------------


class GatewayError(SmsError):
    """The gateway refused the message or could not be reached; `status` is the last HTTP status, if any."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None) -> None:
        self.status = status
        self.code = code
        super().__init__(message)


class GatewayAuthError(GatewayError):
    """401: the API key was refused. Not retried: a retry would be refused the same way."""


class GatewayRejected(GatewayError):
    """422 (or 400): the gateway found the number or text invalid. Not retried."""


class IdempotencyConflict(GatewayError):
    """409: the idempotency key was already used for a different message. Not retried."""


class GatewayUnavailable(GatewayError):
    """Retries exhausted on 429 / 5xx / connection errors; `attempts` requests were made.

    The message may or may not have been accepted: resending with the same idempotency key is safe.
    """

    def __init__(self, message: str, attempts: int, status: int | None = None) -> None:
        self.attempts = attempts
        super().__init__(message, status=status)


class GatewayProtocolError(GatewayError):
    """The gateway answered something the protocol does not allow (unknown status, malformed body)."""


class RateLimitTimeout(SmsError):
    """No send slot became free within the allowed wait; nothing was sent."""


class RateLimiterUnavailable(SmsError):
    """The shared limiter's Redis could not be reached; nothing was sent (fail closed)."""


class ReceiptSignatureError(SmsError):
    """A delivery receipt's signature header is missing, malformed, stale or does not match."""
