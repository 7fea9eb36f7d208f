"""Signing keys (generated once, 0600, several published), rotation, and tokens the API's verifier accepts."""

from __future__ import annotations

import stat
from datetime import timedelta
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from api.access.issuer import KeyRing, TokenIssuer, TokenRequest, jwk_thumbprint, rotate_keys
from api.access.tokens import InvalidToken, JwksFile, StaticKeys, TokenVerifier
from infra.access_settings import AccessSettings, IdentitySettings
from infra.clock import FixedClock

SETTINGS = IdentitySettings()


def verifier(ring: KeyRing, clock: FixedClock) -> TokenVerifier:
    return TokenVerifier(AccessSettings(issuer=SETTINGS.issuer, audience=SETTINGS.audience), StaticKeys(ring.jwks()),
                         clock)


def person(subject: str = "emp:7") -> TokenRequest:
    return TokenRequest(subject=subject, scopes=frozenset({"reports"}), amr=("pwd",))


def test_keys_are_generated_once_private_and_all_published(tmp_path: Path) -> None:
    ring = KeyRing.load_or_create(tmp_path / "keys", published=2)
    again = KeyRing.load_or_create(tmp_path / "keys", published=2)
    assert [k.kid for k in ring.keys] == [k.kid for k in again.keys] and len(ring.keys) == 2
    assert ring.active.kid == again.active.kid == ring.keys[0].kid
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
    for key in ring.keys:
        assert stat.S_IMODE(key.path.stat().st_mode) == 0o600
        assert key.kid == jwk_thumbprint(key.private_key.public_key())
    jwks = ring.jwks()["keys"]
    assert {k["kid"] for k in jwks} == {k.kid for k in ring.keys}
    assert all(k["alg"] == "ES256" and k["use"] == "sig" and "d" not in k for k in jwks)


def test_the_token_has_the_contract_claims_and_the_api_verifier_accepts_it(tmp_path: Path) -> None:
    clock = FixedClock()
    ring = KeyRing.load_or_create(tmp_path, published=2)
    issued = TokenIssuer(SETTINGS, ring, clock).issue(TokenRequest(
        subject="user:analyst", scopes=frozenset({"reports"}), amr=("pwd", "otp"), auth_time=clock.now(),
        mfa_at=clock.now(), role="analyst", branches=None, session_id="s1", client_id="luckygas-web"))
    claims = verifier(ring, clock).verify(issued.token)
    assert jwt.get_unverified_header(issued.token) == {"alg": "ES256", "kid": ring.active.kid, "typ": "at+jwt"}
    now = int(clock.now().timestamp())
    assert claims == {"iss": SETTINGS.issuer, "aud": "luckygas-api", "sub": "user:analyst", "iat": now, "nbf": now,
                      "exp": now + 900, "jti": issued.jti, "scope": "reports", "client_id": "luckygas-web",
                      "amr": ["pwd", "otp"], "auth_time": now, "mfa_at": now, "role": "analyst",
                      "branches": ["*"], "sid": "s1"}
    assert issued.expires_at == clock.now() + timedelta(minutes=15)


def test_expired_and_foreign_tokens_are_refused(tmp_path: Path) -> None:
    clock = FixedClock()
    ring = KeyRing.load_or_create(tmp_path / "ours")
    other = KeyRing.load_or_create(tmp_path / "theirs")
    ours = TokenIssuer(SETTINGS, ring, clock)
    token = ours.issue(person()).token
    foreign = TokenIssuer(SETTINGS, other, clock).issue(person()).token
    with pytest.raises(InvalidToken):
        verifier(ring, clock).verify(foreign)
    with pytest.raises(jwt.InvalidTokenError):
        ours.decode(foreign)
    clock.advance(timedelta(minutes=16))
    with pytest.raises(InvalidToken):
        verifier(ring, clock).verify(token)
    with pytest.raises(jwt.ExpiredSignatureError):
        ours.decode(token)
    assert ours.decode(token, verify_exp=False)["sub"] == "emp:7"


def test_rotation_keeps_old_tokens_valid_and_signs_with_the_pre_published_key(tmp_path: Path) -> None:
    clock = FixedClock()
    first = KeyRing.load_or_create(tmp_path)
    old_token = TokenIssuer(SETTINGS, first, clock).issue(person()).token
    rotated = rotate_keys(tmp_path)
    assert rotated.active.kid == first.keys[1].kid  # the next key, already in every verifier's JWKS
    assert len(rotated.keys) == 3
    new_token = TokenIssuer(SETTINGS, rotated, clock).issue(person()).token
    assert jwt.get_unverified_header(new_token)["kid"] == rotated.active.kid
    for token in (old_token, new_token):
        assert verifier(rotated, clock).verify(token)["sub"] == "emp:7"
    assert KeyRing.load_or_create(tmp_path).active.kid == rotated.active.kid  # remembered across restarts
    twice = rotate_keys(tmp_path)
    assert first.keys[0].kid not in {k.kid for k in twice.keys} and len(twice.keys) == 3


def test_the_jwks_file_serves_verifiers_in_other_processes(tmp_path: Path) -> None:
    clock = FixedClock()
    ring = KeyRing.load_or_create(tmp_path / "keys")
    ring.write_jwks(tmp_path / "auth" / "jwks.json")
    token = TokenIssuer(SETTINGS, ring, clock).issue(person()).token
    file_verifier = TokenVerifier(AccessSettings(issuer=SETTINGS.issuer), JwksFile(tmp_path / "auth" / "jwks.json"),
                                  clock)
    assert file_verifier.verify(token)["sub"] == "emp:7"
    assert stat.S_IMODE((tmp_path / "auth" / "jwks.json").stat().st_mode) == 0o644


def test_a_key_file_that_is_not_p256_is_refused(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    key = ec.generate_private_key(ec.SECP384R1())
    (tmp_path / "es256-0001-bad.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    with pytest.raises(ValueError, match="P-256"):
        KeyRing.load_or_create(tmp_path)
