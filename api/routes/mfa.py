"""TOTP multi-factor authentication for people signed in with a password.

Contract: both routes take the caller's access token (`Authorization: Bearer`, one of ours, not expired, not
revoked, of an account that can still sign in — 401 with `WWW-Authenticate: Bearer` otherwise).
- `POST /mfa/totp/enrol` answers the otpauth URI and secret once (201; 409 when already enrolled); audited
  `mfa_enrol`.
- `POST /mfa/totp/verify` `{"code": "123456"}` answers a new access token with amr ["pwd","otp"] and
  `mfa_at` (401 for a wrong or replayed code, 429-like lock after repeated wrong codes); audited `mfa_verify`.
"""

from __future__ import annotations

from typing import Annotated, Any

import jwt
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.access.identity import Identity, OAuthError, audit, get_identity
from api.routes.oauth import NO_STORE, oauth_error_response

router = APIRouter(prefix="/mfa", tags=["identity"])
IdentityDep = Annotated[Identity, Depends(get_identity)]


def _unauthorized(description: str) -> HTTPException:
    return HTTPException(401, description, headers={
        "WWW-Authenticate": f'Bearer error="invalid_token", error_description="{description}"'})


def bearer_token(request: Request) -> str:
    """The caller's bearer token; 401 before anything else (the identity provider included) is consulted."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token or len(token) > 8192:
        raise _unauthorized("a bearer access token is required")
    return token


async def token_claims(token: Annotated[str, Depends(bearer_token)], identity: IdentityDep) -> dict[str, Any]:
    """The verified claims of the caller's access token (see the module contract)."""
    try:
        claims = identity.issuer.decode(token.strip())
    except (jwt.PyJWTError, ValueError, TypeError):
        raise _unauthorized("the access token is invalid or expired") from None
    if await identity.access_token_revoked(str(claims["jti"])):
        raise _unauthorized("the access token was revoked")
    account = await identity.store.account_by_subject(str(claims["sub"]))
    if account is None or not account.active:
        raise _unauthorized("the account can no longer sign in")
    return claims


ClaimsDep = Annotated[dict[str, Any], Depends(token_claims)]


class VerifyRequest(BaseModel):
    code: str = Field(min_length=6, max_length=8, description="the 6 digits the authenticator app shows")


@router.post("/totp/enrol", status_code=201, summary="Enrol an authenticator app (the secret is shown once)")
async def enrol(request: Request, claims: ClaimsDep, identity: IdentityDep) -> JSONResponse:
    subject = str(claims["sub"])
    try:
        uri = await identity.totp.enrol(subject)
        await audit(request, "mfa_enrol", principal=subject, status=201)
    except OAuthError as error:
        return oauth_error_response(error)
    secret = uri.split("secret=", 1)[1].split("&", 1)[0]
    return JSONResponse({"otpauth_uri": uri, "secret": secret,
                         "next": "scan the URI, then POST /mfa/totp/verify with the current code"},
                        status_code=201, headers=NO_STORE)


@router.post("/totp/verify", summary="Verify a TOTP code: a new access token with amr pwd+otp and mfa_at")
async def verify(request: Request, body: VerifyRequest, claims: ClaimsDep, identity: IdentityDep) -> JSONResponse:
    subject = str(claims["sub"])
    try:
        issued = await identity.totp.verify(subject, body.code, claims)
        await audit(request, "mfa_verify", principal=subject, status=200, parameters={"session": claims.get("sid")})
    except OAuthError as error:
        if error.audit_kind:
            await audit(request, error.audit_kind, principal=subject, status=error.status, detail=error.description,
                        required=False)
        return oauth_error_response(error)
    return JSONResponse({"access_token": issued.token, "token_type": "Bearer", "expires_in": issued.expires_in,
                         "scope": issued.claims["scope"], "mfa_at": issued.claims["mfa_at"]}, headers=NO_STORE)
