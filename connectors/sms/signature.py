"""HMAC signatures of delivery-receipt callbacks (the `X-Sms-Signature` header of the gateway protocol).

Header form: `X-Sms-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + raw body)>`; several
`v1=` entries may appear while the gateway rotates secrets (any one matching is enough).
Contract of `SignatureVerifier.verify(body, header)`: returns None when one v1 matches one of our secrets and
`t` is within `tolerance_s` of our clock; else raises `ReceiptSignatureError` saying which check failed.
The timestamp is inside the MAC, so a captured receipt cannot be replayed after the tolerance.
Comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from datetime import datetime

from connectors.sms.errors import ReceiptSignatureError
from infra.clock import Clock

SIGNATURE_HEADER = "X-Sms-Signature"


def compute_mac(secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 over "<timestamp>." + body."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(body: bytes, secret: str, at: datetime) -> str:
    """The header value the gateway sends for `body` at time `at` (aware)."""
    timestamp = int(at.timestamp())
    return f"t={timestamp},v1={compute_mac(secret, timestamp, body)}"


def parse_header(header: str) -> tuple[int, list[str]]:
    """(timestamp, [v1 signatures]) from a header value; ReceiptSignatureError when malformed."""
    timestamp: int | None = None
    macs: list[str] = []
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            raise ReceiptSignatureError(f"malformed {SIGNATURE_HEADER} element {part.strip()!r}")
        if name == "t":
            if not value.isdigit():
                raise ReceiptSignatureError(f"{SIGNATURE_HEADER} timestamp is not a number: {value!r}")
            timestamp = int(value)
        elif name == "v1":
            macs.append(value.lower())
    if timestamp is None or not macs:
        raise ReceiptSignatureError(f"{SIGNATURE_HEADER} needs t=<unix seconds> and at least one v1=<hex mac>")
    return timestamp, macs


class SignatureVerifier:
    """Checks receipt signatures against our secret(s) and clock (see module contract)."""

    def __init__(self, secrets: Sequence[str], tolerance_s: int, clock: Clock) -> None:
        if not secrets or any(not s for s in secrets):
            raise ValueError("at least one non-empty secret is needed")
        self._secrets = tuple(secrets)
        self._tolerance_s = tolerance_s
        self.clock = clock

    def verify(self, body: bytes, header: str | None) -> None:
        if not header:
            raise ReceiptSignatureError(f"missing {SIGNATURE_HEADER} header")
        timestamp, macs = parse_header(header)
        skew = abs(self.clock.now().timestamp() - timestamp)
        if skew > self._tolerance_s:
            raise ReceiptSignatureError(
                f"{SIGNATURE_HEADER} timestamp is {skew:.0f}s away from our clock (tolerance {self._tolerance_s}s)"
            )
        expected = [compute_mac(secret, timestamp, body) for secret in self._secrets]
        # Compare every pair (no early exit) so timing does not tell which secret or mac came close.
        matched = False
        for mac in macs:
            for good in expected:
                matched |= hmac.compare_digest(mac, good)
        if not matched:
            raise ReceiptSignatureError(f"{SIGNATURE_HEADER} does not match the body")
