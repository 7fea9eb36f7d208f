"""Verification of bearer access tokens (RFC 9068-style JWTs) by the API as an OAuth 2.0 resource server.

Contract: `TokenVerifier.verify(token)` returns the claims of a token that is well formed, signed by a key of
the key set under its `kid`, with an accepted asymmetric `alg` that matches that key (never `none`, never a
shared-secret HS*), `iss` and `aud` as configured, and `sub`, `jti`, `iat`, `nbf`, `exp` present, numeric where
they are times, and current on the injected clock within the leeway (at most 60 s). Anything else raises
`InvalidToken` with a short description that is safe to show the caller; a key set that cannot be read raises
`KeysUnavailable` (the caller answers 503). `parse_bearer(header)` takes the token out of an `Authorization`
header. `bearer_challenge(...)` builds the `WWW-Authenticate` value of a refusal (RFC 6750 section 3).

Key sources: `StaticKeys` (a JWKS document in memory: tests, or the issuer in the same process), `JwksFile`
(re-read when the file changes: key rotation by rewriting it), `JwksUrl` (PyJWKClient, cached, fetched again
for an unknown `kid`). Only asymmetric signing keys are kept from any of them.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

import jwt
from jwt import PyJWK, PyJWKClient, PyJWKSet

from infra.access_settings import AccessSettings
from infra.clock import Clock
from infra.settings import StackSettings

MAX_TOKEN_CHARS = 8192
REQUIRED_CLAIMS = ("iss", "aud", "sub", "exp", "nbf", "iat", "jti")
ACCEPTED_TYPES = frozenset({"at+jwt", "application/at+jwt", "jwt"})
_BEARER = re.compile(r"^Bearer +([A-Za-z0-9\-._~+/]+=*) *$", re.IGNORECASE)
_ASYMMETRIC_KEY_TYPES = frozenset({"EC", "RSA", "OKP"})
REALM = "luckygas-api"


class InvalidToken(Exception):
    """The credentials are missing, malformed or not acceptable; `description` is safe to show the caller."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


class KeysUnavailable(Exception):
    """The key set could not be read (file missing or broken, JWKS endpoint unreachable)."""


class KeySource(Protocol):
    """Signing keys by `kid`. `blocking`: `get` may wait on the network (call it off the event loop)."""

    blocking: bool

    def get(self, kid: str) -> PyJWK | None:
        """The key with this `kid`, None when the set has none; KeysUnavailable when the set cannot be read."""
        ...


def _signing_keys(document: Mapping[str, Any]) -> dict[str, PyJWK]:
    """The asymmetric signing keys with a `kid` of a JWKS document (others skipped, never an error)."""
    entries = document.get("keys")
    if not isinstance(entries, list):
        raise KeysUnavailable("the key set has no 'keys' list")
    usable = [k for k in entries if isinstance(k, dict) and k.get("kty") in _ASYMMETRIC_KEY_TYPES
              and k.get("use", "sig") == "sig" and isinstance(k.get("kid"), str)]
    if not usable:
        return {}
    try:
        keys = PyJWKSet(usable)
    except jwt.PyJWTError as error:
        raise KeysUnavailable(f"the key set has no usable key ({error})") from None
    return {str(k.key_id): k for k in keys}


class StaticKeys:
    """A JWKS document held in memory."""

    blocking = False

    def __init__(self, document: Mapping[str, Any]) -> None:
        self._keys = _signing_keys(document)

    def get(self, kid: str) -> PyJWK | None:
        return self._keys.get(kid)


class JwksFile:
    """A JWKS document in a file, read again whenever its modification time or size changes."""

    blocking = False

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._keys: dict[str, PyJWK] = {}
        self._lock = threading.Lock()

    def get(self, kid: str) -> PyJWK | None:
        with self._lock:
            try:
                stat = self.path.stat()
            except OSError:
                raise KeysUnavailable(f"no key set at {self.path}") from None
            stamp = (stat.st_mtime_ns, stat.st_size)
            if stamp != self._stamp:
                try:
                    document = json.loads(self.path.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    raise KeysUnavailable(f"the key set at {self.path} is not readable JSON") from None
                if not isinstance(document, dict):
                    raise KeysUnavailable(f"the key set at {self.path} is not a JWKS object")
                self._keys, self._stamp = _signing_keys(document), stamp
            return self._keys.get(kid)


class JwksUrl:
    """A JWKS endpoint (our own /.well-known/jwks.json or a company IdP's), cached by PyJWKClient."""

    blocking = True

    def __init__(self, url: str, lifespan_seconds: float = 300, timeout_seconds: float = 5) -> None:
        self._client = PyJWKClient(url, cache_jwk_set=True, lifespan=lifespan_seconds, timeout=timeout_seconds)

    def get(self, kid: str) -> PyJWK | None:
        try:
            key = self._client.get_signing_key(kid)
        except jwt.PyJWKClientConnectionError:
            raise KeysUnavailable("the JWKS endpoint is unreachable") from None
        except jwt.PyJWKClientError:
            return None
        if key.key_type not in _ASYMMETRIC_KEY_TYPES:
            return None
        return key


def key_source(settings: StackSettings) -> KeySource:
    """The configured key source (no I/O here: keys are read on the first verification)."""
    access = settings.access
    if access.jwks_url:
        return JwksUrl(access.jwks_url)
    return JwksFile(access.key_file(settings.state_dir))


class TokenVerifier:
    """Checks access tokens against `settings` and `keys`, with time from `clock`."""

    def __init__(self, settings: AccessSettings, keys: KeySource, clock: Clock) -> None:
        self.settings = settings
        self.keys = keys
        self.clock = clock
        self.algorithms = frozenset(settings.algorithms) & AccessSettings.ASYMMETRIC_ALGORITHMS

    @property
    def blocking(self) -> bool:
        return self.keys.blocking

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a valid token; InvalidToken (or KeysUnavailable) otherwise."""
        if len(token) > MAX_TOKEN_CHARS:
            raise InvalidToken("the token is too long")
        try:
            header = jwt.get_unverified_header(token)
        except (jwt.PyJWTError, ValueError, TypeError):
            raise InvalidToken("the token is malformed") from None
        alg, kid, typ = header.get("alg"), header.get("kid"), header.get("typ")
        if not isinstance(alg, str) or alg not in self.algorithms:
            raise InvalidToken("the token's signature algorithm is not accepted")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("the token names no signing key (kid)")
        if typ is not None and (not isinstance(typ, str) or typ.lower() not in ACCEPTED_TYPES):
            raise InvalidToken("the token is not an access token")
        key = self.keys.get(kid)
        if key is None:
            raise InvalidToken("the token is signed by an unknown key")
        claims = self._decode(token, key, alg)
        self._check_times(claims)
        return claims

    def _decode(self, token: str, key: PyJWK, alg: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key=key, algorithms=[alg], audience=self.settings.audience, issuer=self.settings.issuer,
                options={"require": list(REQUIRED_CLAIMS), "verify_exp": False, "verify_nbf": False,
                         "verify_iat": False})
        except jwt.InvalidSignatureError:
            raise InvalidToken("the token's signature is not valid") from None
        except jwt.InvalidAlgorithmError:
            raise InvalidToken("the token's algorithm does not match its key") from None
        except jwt.MissingRequiredClaimError as error:
            raise InvalidToken(f"the token has no {error.claim} claim") from None
        except jwt.InvalidAudienceError:
            raise InvalidToken("the token is meant for another audience") from None
        except jwt.InvalidIssuerError:
            raise InvalidToken("the token is from another issuer") from None
        except (jwt.PyJWTError, ValueError, TypeError):
            raise InvalidToken("the token is not valid") from None
        return claims

    def _check_times(self, claims: Mapping[str, Any]) -> None:
        now = self.clock.now().timestamp()
        leeway = self.settings.leeway_seconds
        exp, nbf, iat = (_number(claims, name) for name in ("exp", "nbf", "iat"))
        if now >= exp + leeway:
            raise InvalidToken("the token has expired")
        if nbf > now + leeway:
            raise InvalidToken("the token is not valid yet")
        if iat > now + leeway:
            raise InvalidToken("the token was issued in the future")
        if exp - iat > self.settings.max_token_lifetime_seconds:
            raise InvalidToken("the token is valid for too long")


def _number(claims: Mapping[str, Any], name: str) -> float:
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidToken(f"the token's {name} claim is not a number")
    return float(value)


def parse_bearer(header: str) -> str:
    """The token of an `Authorization: Bearer <token>` header; InvalidToken for any other shape."""
    if len(header) > MAX_TOKEN_CHARS + 16:
        raise InvalidToken("the token is too long")
    found = _BEARER.match(header)
    if found is None:
        raise InvalidToken("the Authorization header is not 'Bearer <token>'")
    return found.group(1)


def bearer_challenge(error: str | None = None, description: str | None = None,
                     extra: Iterable[tuple[str, str]] = ()) -> str:
    """A `WWW-Authenticate` value: `Bearer realm="…"[, error="…", error_description="…", k="v"…]`."""
    parts = [f'realm="{REALM}"']
    if error:
        parts.append(f'error="{_quotable(error)}"')
    if description:
        parts.append(f'error_description="{_quotable(description)}"')
    parts += [f'{name}="{_quotable(value)}"' for name, value in extra]
    return "Bearer " + ", ".join(parts)


def _quotable(text: str) -> str:
    """Text allowed inside an RFC 6750 quoted value (%x20-21 / %x23-5B / %x5D-7E): others become spaces."""
    kept = "".join(c if 0x20 <= ord(c) <= 0x7E and c not in '"\\' else " " for c in text)
    return " ".join(kept.split())
