"""API keys for outside systems, managed by the head office.

Contract (every route: a signed-in person of the `head_office` role, else 401/403; a 403 is audited `denied`):
- `POST /keys` `{name, scopes, branches|null, allowed_ips, expires_in_days}` answers 201 with the key
  `lgk_<prefix>_<secret>` — the only time it is shown; only its argon2 hash is kept. 400 for a bad network
  or lifetime. Audited `key_created`.
- `GET /keys` lists every key's prefix, name, scopes, branches, allow-list, creation, expiry, revocation and
  last use (never the key or its hash).
- `DELETE /keys/{prefix}` revokes a key (204; 404 when unknown or already revoked). Audited `key_revoked`;
  every process refuses the key within `api_key_cache_seconds`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.access.audit_middleware import audit_rows
from api.access.credentials import API_KEY_PREFIX_LEN, ApiKeyRecord
from api.access.identity import Identity, OAuthError, audit, get_identity
from api.access.principal import CurrentPrincipal, Principal
from api.deps import PolicyDep

router = APIRouter(prefix="/keys", tags=["identity"])
IdentityDep = Annotated[Identity, Depends(get_identity)]
MANAGER_ROLE = "head_office"


async def key_manager(request: Request, principal: CurrentPrincipal) -> Principal:
    """The caller, if a person of the head office; 403 (audited) otherwise."""
    if principal.kind != "person" or principal.role != MANAGER_ROLE:
        await audit(request, "denied", principal=principal.subject, status=403,
                    detail="API keys are managed by the head office", required=False)
        raise HTTPException(403, "API keys are managed by the head office")
    return principal


ManagerDep = Annotated[Principal, Depends(key_manager)]


class KeyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100, description="which outside system uses the key")
    scopes: list[Annotated[str, Field(max_length=40)]] = Field(
        default_factory=list, max_length=30, description="read:<family> for each report family, e.g. read:kpis")
    branches: list[Annotated[str, Field(pattern=r"^[A-Z]{3}$")]] | None = Field(
        default=None, description="branch codes the key may read; null: all branches")
    allowed_ips: list[Annotated[str, Field(max_length=64)]] = Field(
        min_length=1, max_length=50, description="networks the key may be used from, e.g. 203.0.113.7/32")
    expires_in_days: int | None = Field(default=None, ge=1)


class KeyView(BaseModel):
    prefix: str
    name: str
    role: str
    scopes: list[str]
    branches: list[str] | None
    allowed_ips: list[str]
    created_by: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def of(cls, record: ApiKeyRecord) -> KeyView:
        return cls(prefix=record.prefix, name=record.name, role=record.role, scopes=sorted(record.scopes),
                   branches=None if record.branches is None else sorted(record.branches),
                   allowed_ips=list(record.allowed_ips), created_by=record.created_by, created_at=record.created_at,
                   expires_at=record.expires_at, revoked_at=record.revoked_at, last_used_at=record.last_used_at)


class KeyCreated(KeyView):
    key: str = Field(description="the API key: shown this once, send it as the X-API-Key header")


@router.post("", status_code=201, response_model=KeyCreated, summary="Create an API key (shown once)")
async def create_key(request: Request, body: KeyCreate, identity: IdentityDep, manager: ManagerDep,
                     policy: PolicyDep) -> JSONResponse:
    role = policy.roles.get(identity.settings.api_key_role)
    allowed = {f"read:{family}" for family in (role.families if role else ())}
    unknown = sorted(set(body.scopes) - allowed)
    if unknown:
        raise HTTPException(400, f"unknown scopes {unknown}; a key may hold {sorted(allowed)}")
    try:
        raw, record = await identity.create_api_key(
            manager.subject, body.name, frozenset(body.scopes),
            None if body.branches is None else frozenset(body.branches), body.allowed_ips, body.expires_in_days)
    except ValueError as error:
        raise HTTPException(400, str(error)) from None
    try:
        await audit(request, "key_created", principal=manager.subject, status=201,
                    parameters={"prefix": record.prefix, "name": record.name, "allowed_ips": list(record.allowed_ips)})
    except OAuthError as error:
        await identity.store.revoke_api_key(record.prefix, identity.clock.now())
        raise HTTPException(error.status, error.description) from None
    created = KeyCreated(key=raw, **KeyView.of(record).model_dump())
    return JSONResponse(created.model_dump(mode="json"), status_code=201, headers={"Cache-Control": "no-store"})


@router.get("", response_model=list[KeyView], summary="Every API key (without secrets)")
async def list_keys(request: Request, identity: IdentityDep, manager: ManagerDep) -> list[KeyView]:
    keys = [KeyView.of(record) for record in await identity.store.list_api_keys()]
    audit_rows(request, len(keys))
    return keys


@router.delete("/{prefix}", status_code=204, summary="Revoke an API key")
async def revoke_key(request: Request, identity: IdentityDep, manager: ManagerDep,
                     prefix: Annotated[str, Path(pattern=f"^[a-z0-9]{{{API_KEY_PREFIX_LEN}}}$")]) -> Response:
    if not await identity.store.revoke_api_key(prefix, identity.clock.now()):
        raise HTTPException(404, f"no active API key with prefix {prefix}")
    await audit(request, "key_revoked", principal=manager.subject, status=204, parameters={"prefix": prefix},
                required=False)
    return Response(status_code=204)
