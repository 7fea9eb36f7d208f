"""OAuth 2.0 endpoints of the local identity provider: token (RFC 6749), revocation (RFC 7009), JWKS and
authorization-server metadata (RFC 8414). Public routes: they authenticate the request themselves.

Contract:
- `POST /oauth/token` (form-encoded): `grant_type=password` (username = employee number or local user name,
  password, optional scope, client_id "luckygas-web" or none) answers access + refresh token;
  `grant_type=refresh_token` rotates the refresh token; `grant_type=client_credentials` (client id and
  secret by HTTP Basic or form) answers an access token for an internal service. Errors are RFC 6749 §5.2
  JSON `{"error", "error_description"}`: 400 for a malformed request, 401 for bad credentials, 429 with
  `Retry-After` over the endpoint's limits, 503 when the identity stores are down. Every answer is `no-store`.
- `POST /oauth/revoke` (form: token, optional token_type_hint) always answers 200 (RFC 7009 §2.2), and
  revokes the session of a token of ours (logout).
- Every sign-in, failure, refresh, reuse and logout is audited (`sign_in`, `sign_in_failed`,
  `token_refresh`, `token_reuse`, `logout`).
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse

from api.access.identity import Grant, Identity, OAuthError, audit, client_ip, get_identity

router = APIRouter(tags=["identity"])
IdentityDep = Annotated[Identity, Depends(get_identity)]
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
MAX_FIELD = 4096


def oauth_error_response(error: OAuthError, basic_challenge: bool = False) -> JSONResponse:
    headers = dict(NO_STORE)
    if error.retry_after:
        headers["Retry-After"] = str(error.retry_after)
    if error.status == 401 and error.error == "invalid_client" and basic_challenge:
        headers["WWW-Authenticate"] = 'Basic realm="luckygas"'
    return JSONResponse({"error": error.error, "error_description": error.description}, status_code=error.status,
                        headers=headers)


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        client_id, sep, secret = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise OAuthError(400, "invalid_request", "malformed Basic authorization header") from None
    if not sep:
        raise OAuthError(400, "invalid_request", "malformed Basic authorization header")
    return client_id, secret


def _require(value: str | None, name: str) -> str:
    if not value:
        raise OAuthError(400, "invalid_request", f"missing parameter: {name}")
    if len(value) > MAX_FIELD:
        raise OAuthError(400, "invalid_request", f"parameter too long: {name}")
    return value


FormText = Annotated[str | None, Form()]


async def _grant(request: Request, identity: Identity, grant_type: str, fields: dict[str, str | None]) -> Grant:
    ip = client_ip(request, identity.settings.trusted_proxies)
    if grant_type == "password":
        login = _require(fields["username"], "username").strip()
        if len(login) > 64:
            raise OAuthError(400, "invalid_request", "username too long")
        return await identity.password_grant(login, _require(fields["password"], "password"), fields["scope"],
                                             fields["client_id"], ip)
    if grant_type == "refresh_token":
        return await identity.refresh(_require(fields["refresh_token"], "refresh_token"), fields["client_id"])
    if grant_type == "client_credentials":
        basic = _basic_credentials(request)
        client_id, secret = basic or (fields["client_id"], fields["client_secret"])
        return await identity.client_credentials(_require(client_id, "client_id"),
                                                 _require(secret, "client_secret"), fields["scope"], ip)
    raise OAuthError(400, "unsupported_grant_type", f"grant_type {grant_type[:40]!r} is not supported here; "
                     "use password, refresh_token or client_credentials")


@router.post("/oauth/token", summary="Sign in or refresh: an access token (ES256 JWT, 15 min)")
async def token(request: Request, identity: IdentityDep, grant_type: FormText = None, username: FormText = None,
                password: FormText = None, scope: FormText = None, client_id: FormText = None,
                client_secret: FormText = None, refresh_token: FormText = None) -> JSONResponse:
    fields = {"username": username, "password": password, "scope": scope, "client_id": client_id,
              "client_secret": client_secret, "refresh_token": refresh_token}
    kind = "sign_in" if grant_type != "refresh_token" else "token_refresh"
    try:
        grant = await _grant(request, identity, _require(grant_type, "grant_type"), fields)
        await audit(request, kind, principal=grant.subject, status=200,
                    parameters={"grant_type": grant_type, "session": grant.session_id})
    except OAuthError as error:
        if error.audit_kind:
            await audit(request, error.audit_kind, principal=error.subject, status=error.status,
                        detail=error.description, parameters={"grant_type": grant_type}, required=False)
        return oauth_error_response(error, basic_challenge="authorization" in request.headers)
    return JSONResponse(grant.body(), headers=NO_STORE)


@router.post("/oauth/revoke", summary="Revoke a refresh or access token (logout)")
async def revoke(request: Request, identity: IdentityDep, token: FormText = None,
                 token_type_hint: FormText = None) -> JSONResponse:
    try:
        subject = await identity.revoke(_require(token, "token"))
    except OAuthError as error:
        return oauth_error_response(error)
    if subject is not None:
        await audit(request, "logout", principal=subject, status=200,
                    parameters={"token_type_hint": token_type_hint}, required=False)
    return JSONResponse({}, headers=NO_STORE)


@router.get("/.well-known/jwks.json", summary="The public keys that verify our access tokens")
async def jwks(identity: IdentityDep) -> JSONResponse:
    return JSONResponse(identity.issuer.keys.jwks(), headers={"Cache-Control": "public, max-age=300"})


@router.get("/.well-known/oauth-authorization-server", summary="Authorization-server metadata (RFC 8414)")
async def metadata(identity: IdentityDep) -> dict[str, object]:
    base = identity.settings.public_url.rstrip("/")
    return {
        "issuer": identity.settings.issuer, "token_endpoint": f"{base}/oauth/token",
        "revocation_endpoint": f"{base}/oauth/revoke", "jwks_uri": f"{base}/.well-known/jwks.json",
        "grant_types_supported": ["password", "refresh_token", "client_credentials"],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
        "scopes_supported": sorted(identity.settings.person_scopes),
    }
