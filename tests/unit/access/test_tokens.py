"""Bearer token verification: what passes, and each way a token is refused (with a reason safe to show)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import ValidationError

from api.access.tokens import (
    MAX_TOKEN_CHARS,
    InvalidToken,
    JwksFile,
    JwksUrl,
    KeysUnavailable,
    StaticKeys,
    TokenVerifier,
    bearer_challenge,
    parse_bearer,
)
from infra.access_settings import AccessSettings
from infra.clock import FixedClock
from tests.unit.access.access_testing import AUDIENCE, ISSUER, SigningKey, claims, unsigned

SETTINGS = AccessSettings(issuer=ISSUER, audience=AUDIENCE, leeway_seconds=30)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def key() -> SigningKey:
    return SigningKey()


def verifier(key: SigningKey, clock: FixedClock, settings: AccessSettings = SETTINGS) -> TokenVerifier:
    return TokenVerifier(settings, StaticKeys(key.jwks()), clock)


def refused(v: TokenVerifier, token: str, reason: str) -> None:
    with pytest.raises(InvalidToken, match=reason):
        v.verify(token)


def test_a_valid_token_gives_its_claims(key: SigningKey, clock: FixedClock) -> None:
    token = key.sign(claims(clock, "emp:3", scope="read:kpis"))
    assert verifier(key, clock).verify(token)["sub"] == "emp:3"


def test_expiry_and_not_before_with_leeway(key: SigningKey, clock: FixedClock) -> None:
    v = verifier(key, clock)
    token = key.sign(claims(clock, "emp:3"))
    clock.advance(timedelta(minutes=15, seconds=29))
    assert v.verify(token)
    clock.advance(timedelta(seconds=1))
    refused(v, token, "expired")
    early = key.sign({**claims(clock, "emp:3"), "nbf": int(clock.now().timestamp()) + 31})
    refused(v, early, "not valid yet")
    future = key.sign({**claims(clock, "emp:3"), "iat": int(clock.now().timestamp()) + 120})
    refused(v, future, "issued in the future")


def test_too_long_a_lifetime_is_refused(key: SigningKey, clock: FixedClock) -> None:
    refused(verifier(key, clock), key.sign(claims(clock, "emp:3", lifetime=timedelta(hours=2))), "too long")


def test_audience_issuer_and_required_claims(key: SigningKey, clock: FixedClock) -> None:
    v = verifier(key, clock)
    refused(v, key.sign(claims(clock, "emp:3", aud="someone-else")), "another audience")
    refused(v, key.sign(claims(clock, "emp:3", iss="https://evil.example")), "another issuer")
    for name in ("sub", "jti", "exp", "nbf", "iat", "aud", "iss"):
        c = claims(clock, "emp:3")
        del c[name]
        refused(v, key.sign(c), f"no {name} claim")
    refused(v, key.sign(claims(clock, "emp:3", exp="soon")), "not a number")


def test_another_key_none_and_algorithm_confusion(key: SigningKey, clock: FixedClock) -> None:
    v = verifier(key, clock)
    other = SigningKey()
    refused(v, other.sign(claims(clock, "emp:3")), "unknown key")
    impostor = SigningKey(kid=key.kid)  # same kid, another private key
    refused(v, impostor.sign(claims(clock, "emp:3")), "signature is not valid")
    refused(v, unsigned(claims(clock, "emp:3")), "algorithm is not accepted")
    # HS256 "signed" with the public key as the shared secret (PyJWT itself refuses to make one)
    public_pem = key.private.public_key().public_bytes(serialization.Encoding.PEM,
                                                       serialization.PublicFormat.SubjectPublicKeyInfo)
    head, body = (_b64(json.dumps(p).encode()) for p in ({"alg": "HS256", "kid": key.kid}, claims(clock, "emp:3")))
    mac = hmac.new(public_pem, f"{head}.{body}".encode(), hashlib.sha256).digest()
    refused(v, f"{head}.{body}.{_b64(mac)}", "algorithm is not accepted")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_rs256_only_when_configured(clock: FixedClock) -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    keys = StaticKeys({"keys": [{**jwk, "kid": "idp-1", "use": "sig", "alg": "RS256"}]})
    token = jwt.encode(claims(clock, "client:idp"), private, algorithm="RS256", headers={"kid": "idp-1"})
    with pytest.raises(InvalidToken, match="not accepted"):
        TokenVerifier(SETTINGS, keys, clock).verify(token)
    both = SETTINGS.model_copy(update={"algorithms": ["ES256", "RS256"]})
    assert TokenVerifier(both, keys, clock).verify(token)["sub"] == "client:idp"


def test_header_checks(key: SigningKey, clock: FixedClock) -> None:
    v = verifier(key, clock)
    no_kid = jwt.encode(claims(clock, "emp:3"), key.private, algorithm="ES256")
    refused(v, no_kid, "no signing key")
    refused(v, key.sign(claims(clock, "emp:3"), {"typ": "dpop+jwt"}), "not an access token")
    assert v.verify(key.sign(claims(clock, "emp:3"), {"typ": "JWT"}))


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "....", "eyJ.eyJ.sig", "x" * (MAX_TOKEN_CHARS + 1)])
def test_malformed_tokens(key: SigningKey, clock: FixedClock, token: str) -> None:
    with pytest.raises(InvalidToken):
        verifier(key, clock).verify(token)


def test_symmetric_and_encryption_keys_are_never_used(clock: FixedClock) -> None:
    keys = StaticKeys({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "hs"}]})
    token = jwt.encode(claims(clock, "emp:3"), "a-shared-secret-of-32-bytes-or-more", algorithm="HS256",
                       headers={"kid": "hs"})
    with pytest.raises(InvalidToken):
        TokenVerifier(SETTINGS, keys, clock).verify(token)
    assert keys.get("hs") is None
    enc = SigningKey()
    document = enc.jwks()
    document["keys"][0]["use"] = "enc"
    assert StaticKeys(document).get(enc.kid) is None


def test_a_key_file_is_read_again_when_rewritten(tmp_path: Path, clock: FixedClock) -> None:
    path = tmp_path / "auth" / "jwks.json"
    source = JwksFile(path)
    with pytest.raises(KeysUnavailable):
        source.get("any")
    path.parent.mkdir()
    old, new = SigningKey(), SigningKey()
    path.write_text(json.dumps(old.jwks()))
    v = TokenVerifier(SETTINGS, source, clock)
    assert v.verify(old.sign(claims(clock, "emp:3")))
    refused(v, new.sign(claims(clock, "emp:3")), "unknown key")
    both: dict[str, Any] = {"keys": old.jwks()["keys"] + new.jwks()["keys"]}
    path.write_text(json.dumps(both))
    assert v.verify(new.sign(claims(clock, "emp:3")))
    path.write_text("{not json")
    with pytest.raises(KeysUnavailable):
        source.get(new.kid)


def test_an_unreachable_jwks_endpoint_is_unavailable_not_invalid() -> None:
    with pytest.raises(KeysUnavailable):
        JwksUrl("http://127.0.0.1:1/.well-known/jwks.json", timeout_seconds=1).get("kid")


@pytest.mark.parametrize(("header", "token"), [("Bearer abc.def.ghi", "abc.def.ghi"),
                                               ("bearer abc.def-_~+/=", "abc.def-_~+/="),
                                               ("Bearer  abc ", "abc")])
def test_parse_bearer(header: str, token: str) -> None:
    assert parse_bearer(header) == token


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer ", "Basic dXNlcjpwdw==", "Bearer a b", "Bearer a,b",
                                    "Bearer é", "Token abc", "Bearer " + "a" * 20_000])
def test_parse_bearer_refuses(header: str) -> None:
    with pytest.raises(InvalidToken):
        parse_bearer(header)


def test_challenge_values_are_quotable() -> None:
    assert bearer_challenge() == 'Bearer realm="luckygas-api"'
    assert bearer_challenge("invalid_token", 'the "token"\\ is\nbad é', [("max_age", "900")]) == (
        'Bearer realm="luckygas-api", error="invalid_token", error_description="the token is bad", max_age="900"')


@pytest.mark.parametrize("change", [{"algorithms": ["none"]}, {"algorithms": ["HS256"]}, {"algorithms": []},
                                    {"leeway_seconds": 61}, {"principal_cache_seconds": 3}])
def test_settings_refuse_unsafe_values(change: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        AccessSettings(**change)
