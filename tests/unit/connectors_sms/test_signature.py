"""X-Sms-Signature: HMAC-SHA256 over timestamp + raw body, replay window, secret rotation."""

from __future__ import annotations

from datetime import timedelta

import pytest

from connectors.sms.errors import ReceiptSignatureError
from connectors.sms.signature import SignatureVerifier, compute_mac, sign
from infra.clock import FixedClock

BODY = b'{"message_id":"m1","status":"delivered","error_code":null,"delivered_at":"2026-01-15T02:00:00+00:00"}'
SECRET = "receipt-secret-0123456789"


def _verifier(clock: FixedClock, *secrets: str) -> SignatureVerifier:
    return SignatureVerifier(secrets or (SECRET,), 300, clock)


def test_signed_body_verifies() -> None:
    clock = FixedClock()
    _verifier(clock).verify(BODY, sign(BODY, SECRET, clock.now()))


def test_header_form() -> None:
    clock = FixedClock()
    header = sign(BODY, SECRET, clock.now())
    ts = int(clock.now().timestamp())
    assert header == f"t={ts},v1={compute_mac(SECRET, ts, BODY)}"


@pytest.mark.parametrize(
    ("header", "why"),
    [
        (None, "missing"),
        ("", "missing"),
        ("v1=abc", "needs t="),
        ("t=12", "needs t="),
        ("t=x,v1=ab", "not a number"),
        ("garbage", "malformed"),
    ],
)
def test_malformed_headers_are_refused(header: str | None, why: str) -> None:
    with pytest.raises(ReceiptSignatureError, match=why):
        _verifier(FixedClock()).verify(BODY, header)


def test_tampered_body_is_refused() -> None:
    clock = FixedClock()
    header = sign(BODY, SECRET, clock.now())
    with pytest.raises(ReceiptSignatureError, match="does not match"):
        _verifier(clock).verify(BODY.replace(b"delivered", b"failed", 1), header)


def test_wrong_secret_is_refused() -> None:
    clock = FixedClock()
    with pytest.raises(ReceiptSignatureError, match="does not match"):
        _verifier(clock).verify(BODY, sign(BODY, "another-secret-9876543210", clock.now()))


def test_stale_signature_is_refused_even_if_valid() -> None:
    clock = FixedClock()
    header = sign(BODY, SECRET, clock.now())
    clock.advance(timedelta(seconds=301))
    with pytest.raises(ReceiptSignatureError, match="away from our clock"):
        _verifier(clock).verify(BODY, header)


def test_rotation_any_matching_pair_is_enough() -> None:
    clock = FixedClock()
    old, new = "old-secret-0123456789", "new-secret-0123456789"
    ts = int(clock.now().timestamp())
    header = f"t={ts},v1={compute_mac(old, ts, BODY)},v1={compute_mac(new, ts, BODY)}"
    _verifier(clock, new).verify(BODY, header)
    _verifier(clock, "third-secret-0123456789", old).verify(BODY, header)
