"""The local identity provider's signing keys, its JWKS and the access tokens it signs.

Contract:
- `IdentitySettings` is every setting of the identity provider (token lifetimes, issuer, audience, key
  directory, Redis, rate limits, lockout); nothing here reads the environment or the disk at import time.
- `KeyRing.load_or_create(key_dir, published)` generates, the first time only, P-256 keys (PKCS#8 PEM,
  0600, directory 0700, written atomically) until `published` keys exist, and remembers which one signs in
  `key_dir/active` (the oldest at first). Every key in the directory is published in the JWKS, so a token
  signed by any of them verifies; `rotate_keys(key_dir)` promotes the pre-published next key to signing,
  generates a new next key and deletes keys older than the previous signer (whose tokens expire within the
  access-token lifetime; rotate at most once per lifetime). Each key's `kid` is its RFC 7638 JWK thumbprint.
  `write_jwks(path)` publishes the public keys as a file for verifiers in other processes.
- `TokenIssuer.issue(...)` signs an RFC 9068-style access token (ES256, header `typ` "at+jwt" and `kid`)
  with the claims of the shared access contract; `TokenIssuer.decode` verifies one of our own tokens
  (signature with any published key, iss, aud, exp/nbf unless `verify_exp=False`) and raises
  `jwt.InvalidTokenError` otherwise.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from infra.access_settings import IdentitySettings
from infra.clock import Clock

ALGORITHM = "ES256"
ACTIVE_FILE = "active"


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    private_key: ec.EllipticCurvePrivateKey
    path: Path

    def public_jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = ECAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        return {**jwk, "kid": self.kid, "use": "sig", "alg": ALGORITHM}


def jwk_thumbprint(public_key: ec.EllipticCurvePublicKey) -> str:
    """RFC 7638 thumbprint (SHA-256, base64url) of an EC public key: the members crv, kty, x, y in order."""
    jwk = ECAlgorithm.to_jwk(public_key, as_dict=True)
    canonical = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


def _write_private(path: Path, data: bytes) -> None:
    temp = path.with_name(f".{path.name}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(temp, 0o600)
    temp.replace(path)


def _new_key(key_dir: Path, sequence: int) -> Path:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    path = key_dir / f"es256-{sequence:04d}-{jwk_thumbprint(key.public_key())[:12]}.pem"
    _write_private(path, pem)
    return path


def _key_files(key_dir: Path) -> list[Path]:
    return sorted(key_dir.glob("es256-*.pem"))  # the sequence number orders them oldest first


def _sequence(path: Path) -> int:
    return int(path.name.split("-")[1])


def _load(path: Path) -> SigningKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError(f"{path} is not a P-256 private key")
    return SigningKey(jwk_thumbprint(key.public_key()), key, path)


def _prepare(key_dir: Path) -> None:
    key_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(key_dir, 0o700)


class KeyRing:
    """The published keys and the one that signs (see the module contract)."""

    def __init__(self, keys: Sequence[SigningKey], active_kid: str) -> None:
        if not any(k.kid == active_kid for k in keys):
            raise ValueError(f"the active key {active_kid} is not among the keys")
        self.keys = tuple(keys)
        self.active = next(k for k in keys if k.kid == active_kid)

    @classmethod
    def load_or_create(cls, key_dir: Path, published: int = 2) -> KeyRing:
        _prepare(key_dir)
        files = _key_files(key_dir)
        next_sequence = _sequence(files[-1]) + 1 if files else 1
        for sequence in range(next_sequence, next_sequence + max(0, published - len(files))):
            _new_key(key_dir, sequence)
        keys = [_load(path) for path in _key_files(key_dir)]
        active_file = key_dir / ACTIVE_FILE
        active = active_file.read_text().strip() if active_file.exists() else ""
        if not any(k.kid == active for k in keys):
            active = keys[0].kid
            _write_private(active_file, active.encode())
        return cls(keys, active)

    def jwks(self) -> dict[str, Any]:
        """The JSON Web Key Set every verifier reads (public parts only)."""
        return {"keys": [k.public_jwk() for k in self.keys]}

    def write_jwks(self, path: Path) -> None:
        """Write the public JWKS to `path` atomically (0644): the file verifiers in other processes read."""
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.tmp")
        temp.write_text(json.dumps(self.jwks(), indent=1), encoding="utf-8")
        os.chmod(temp, 0o644)
        temp.replace(path)

    def public_key(self, kid: str) -> ec.EllipticCurvePublicKey | None:
        return next((k.private_key.public_key() for k in self.keys if k.kid == kid), None)


def rotate_keys(key_dir: Path) -> KeyRing:
    """Promote the next key to signer, publish a new next key, drop keys older than the previous signer."""
    ring = KeyRing.load_or_create(key_dir, published=2)
    newer = [k for k in ring.keys if _sequence(k.path) > _sequence(ring.active.path)]
    promoted = newer[0] if newer else _load(_new_key(key_dir, _sequence(ring.keys[-1].path) + 1))
    _write_private(key_dir / ACTIVE_FILE, promoted.kid.encode())
    _new_key(key_dir, _sequence(_key_files(key_dir)[-1]) + 1)
    for path in _key_files(key_dir):
        if _sequence(path) < _sequence(ring.active.path):
            path.unlink()
    return KeyRing.load_or_create(key_dir, published=1)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    jti: str
    expires_at: datetime
    claims: Mapping[str, Any]

    @property
    def expires_in(self) -> int:
        return int(self.claims["exp"]) - int(self.claims["iat"])


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """What an access token says about its holder. `role`/`branches` only for subjects whose role is not
    looked up per request (`user:`, `client:`, `key:`); `branches` None means all (claim ["*"])."""

    subject: str
    scopes: frozenset[str]
    amr: tuple[str, ...] = ()
    auth_time: datetime | None = None
    mfa_at: datetime | None = None
    role: str | None = None
    branches: frozenset[str] | None = None
    session_id: str | None = None
    client_id: str | None = None


class TokenIssuer:
    """Signs and reads our access tokens with a `KeyRing`."""

    def __init__(self, settings: IdentitySettings, keys: KeyRing, clock: Clock) -> None:
        self.settings = settings
        self.keys = keys
        self.clock = clock

    @property
    def lifetime(self) -> timedelta:
        return timedelta(minutes=self.settings.access_token_minutes)

    def claims_for(self, request: TokenRequest, now: datetime) -> dict[str, Any]:
        at = int(now.timestamp())
        claims: dict[str, Any] = {
            "iss": self.settings.issuer, "aud": self.settings.audience, "sub": request.subject,
            "iat": at, "nbf": at, "exp": at + int(self.lifetime.total_seconds()), "jti": uuid.uuid4().hex,
            "scope": " ".join(sorted(request.scopes)), "client_id": request.client_id or request.subject,
        }
        if request.amr:
            claims["amr"] = list(request.amr)
        if request.auth_time is not None:
            claims["auth_time"] = int(request.auth_time.timestamp())
        if request.mfa_at is not None:
            claims["mfa_at"] = int(request.mfa_at.timestamp())
        if request.role is not None:
            claims["role"] = request.role
            claims["branches"] = ["*"] if request.branches is None else sorted(request.branches)
        if request.session_id is not None:
            claims["sid"] = request.session_id
        return claims

    def issue(self, request: TokenRequest) -> IssuedToken:
        now = self.clock.now()
        claims = self.claims_for(request, now)
        token = jwt.encode(claims, self.keys.active.private_key, algorithm=ALGORITHM,
                           headers={"kid": self.keys.active.kid, "typ": "at+jwt"})
        return IssuedToken(token, claims["jti"], now + self.lifetime, claims)

    def decode(self, token: str, *, verify_exp: bool = True) -> dict[str, Any]:
        """The claims of one of our tokens; `jwt.InvalidTokenError` when it is not one, or not valid now."""
        header = jwt.get_unverified_header(token)
        if header.get("alg") != ALGORITHM:
            raise jwt.InvalidAlgorithmError("not an ES256 token")
        key = self.keys.public_key(str(header.get("kid", "")))
        if key is None:
            raise jwt.InvalidSignatureError("signed by a key that is not ours")
        now = self.clock.now().timestamp()
        claims: dict[str, Any] = jwt.decode(
            token, key, algorithms=[ALGORITHM], audience=self.settings.audience, issuer=self.settings.issuer,
            options={"verify_exp": False, "verify_nbf": False, "verify_iat": False,
                     "require": ["exp", "iat", "sub", "jti"]})
        if verify_exp and not int(claims.get("nbf", claims["iat"])) - 30 <= now < int(claims["exp"]):
            raise jwt.ExpiredSignatureError("token is expired or not yet valid")
        return claims
