"""Who is calling: the current principal of a request, and the dependencies that admit or refuse it.

Contract: `current_principal` takes the caller's credentials (`Authorization: Bearer <JWT>`, or `X-API-Key`
handed to `api.access.credentials.principal_from_api_key`), verifies them (`api.access.tokens`) and returns
a `Principal`. For `emp:<id>` subjects the role and branches come from the employee's CURRENT row in
ClickHouse (`v_w110_employee_master` ⋈ `v_w110_employee_role`, cached at most `principal_cache_seconds`): an
unknown or not active (terminated, on leave) employee is 401, a source role without analytics access 403.
For `user:`, `client:` and `key:` subjects role, branches and scopes are token claims. Every refusal is 401
(credentials; `WWW-Authenticate: Bearer error="invalid_token"`) or 403 (no right), never 500, and is appended
to `app.state.audit` as an `AuditEvent(kind="denied")` when the app has an audit log. ClickHouse or the key
set being unreachable is 503.

`require_family(f)` admits a principal whose role reads family `f` (services and API keys also need the scope
`read:<f>`); `require_recent_mfa(max_age)` one whose role may run sensitive reports and who passed MFA within
`max_age`. `api.access.rows.RowScope` (`RowScopeDep`) is the one helper routes use to limit a table to the
caller's branches and to mask the personal columns of what they return.
"""

from __future__ import annotations

import importlib
import logging
import re
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Annotated, Any, Literal, NoReturn, Protocol

from fastapi import Depends, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from api.access.policy import BRANCHES_PARAMETER, AccessPolicy
from api.access.tokens import InvalidToken, KeysUnavailable, TokenVerifier, bearer_challenge, parse_bearer
from api.deps import ClickHousePool, ClockDep, PolicyDep

log = logging.getLogger("luckygas.api.access")

_SUBJECT = re.compile(r"^(emp|user|client|key):([A-Za-z0-9._@-]{1,128})$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_BRANCH_CODE = re.compile(r"^[A-Z]{3}$")
_CLAIM_KINDS: dict[str, Literal["person", "service", "api_key"]] = {"user": "person", "client": "service",
                                                                    "key": "api_key"}
MAX_API_KEY_CHARS = 512
EMPLOYEE_QUERY = (
    "SELECT e.employee_id, e.branch_code, r.code, e.status FROM v_w110_employee_master AS e "
    "INNER JOIN v_w110_employee_role AS r ON r.role_id = e.role_id WHERE e.employee_id = {employee_id:Int64}"
)


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: who, what kind, which role, which branches (None: all), scopes, sign-in times."""

    subject: str
    kind: Literal["person", "service", "api_key"]
    role: str
    branches: frozenset[str] | None
    scopes: frozenset[str]
    auth_time: datetime | None
    mfa_at: datetime | None
    employee_id: int | None = None

    def branch_filter(self, column: str) -> tuple[str, dict[str, Any]]:
        """An SQL condition on `column` holding one of the principal's branches, and its parameters."""
        if not _IDENTIFIER.match(column):
            raise ValueError(f"{column!r} is not a column name")
        if self.branches is None:
            return "1", {}
        return f"`{column}` IN {{{BRANCHES_PARAMETER}:Array(String)}}", {BRANCHES_PARAMETER: sorted(self.branches)}


# ---------------------------------------------------------------- employees, live from ClickHouse


@dataclass(frozen=True, slots=True)
class EmployeeRecord:
    """The parts of an employee's current row that decide their access."""

    employee_id: int
    branch_code: str
    role_code: str
    status: str


class EmployeeDirectory(Protocol):
    def lookup(self, employee_id: int) -> EmployeeRecord | None:
        """The employee's current row, None when there is none; may block (called in a worker thread)."""
        ...


class ClickHouseEmployeeDirectory:
    """Employee rows read from ClickHouse, each answer (also "no such employee") reused for `cache_seconds`."""

    def __init__(self, pool: ClickHousePool, cache_seconds: float,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._pool = pool
        self._ttl = cache_seconds
        self._monotonic = monotonic
        self._cache: dict[int, tuple[float, EmployeeRecord | None]] = {}
        self._lock = threading.Lock()

    def lookup(self, employee_id: int) -> EmployeeRecord | None:
        now = self._monotonic()
        with self._lock:
            cached = self._cache.get(employee_id)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        client = self._pool.acquire()
        try:
            rows = client.query(EMPLOYEE_QUERY, parameters={"employee_id": employee_id}).result_rows
        finally:
            self._pool.release(client)
        record = EmployeeRecord(int(rows[0][0]), str(rows[0][1]), str(rows[0][2]), str(rows[0][3])) if rows else None
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache = {k: v for k, v in self._cache.items() if now - v[0] < self._ttl}
            self._cache[employee_id] = (now, record)
        return record


def get_employee_directory(request: Request) -> EmployeeDirectory | None:
    """The app's employee directory (None before the app's lifespan made it). Tests override this."""
    directory: EmployeeDirectory | None = getattr(request.app.state, "employees", None)
    return directory


def get_token_verifier(request: Request) -> TokenVerifier:
    verifier: TokenVerifier = request.app.state.token_verifier
    return verifier


DirectoryDep = Annotated[EmployeeDirectory | None, Depends(get_employee_directory)]
VerifierDep = Annotated[TokenVerifier, Depends(get_token_verifier)]


# ---------------------------------------------------------------- refusals (audited)


def _optional(module: str) -> ModuleType | None:
    """A module of the access layer that may not exist yet (built by another part of the work)."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name != module:
            raise
        return None


def _audited_by_middleware(request: Request) -> bool:
    """The request passes through `api.access.audit_middleware.AuditMiddleware`, which records its refusal."""
    module = _optional("api.access.audit_middleware")
    if module is None:
        return False
    for middleware in request.app.user_middleware:
        if middleware.cls is module.AuditMiddleware:
            audited: bool = module.AuditMiddleware(None, *middleware.args, **middleware.kwargs).audited(
                request.url.path)
            return audited
    return False


async def audit_denial(request: Request, status: int, detail: str, principal: Principal | None) -> None:
    """Record a refusal: through the audit middleware's one record per request when it audits this path
    (it reads `request.state.audit_detail` and `.principal`), else appended to `app.state.audit` directly, if
    the app has one (a failing log is logged, not raised: the refusal stands)."""
    request.state.audit_detail = detail
    subject = principal.subject if principal else getattr(request.state, "verified_subject", None)
    if principal is not None:
        request.state.principal = principal
    elif subject is not None:  # a valid token whose subject has no access: the middleware records it so
        request.state.audit_parameters = {**getattr(request.state, "audit_parameters", {}), "subject": subject}
    audit = getattr(request.app.state, "audit", None)
    module = _optional("api.access.audit") if audit is not None else None
    if audit is None or module is None or _audited_by_middleware(request):
        return
    try:
        event = module.AuditEvent(
            at=request.app.state.clock.now(), kind="denied", principal=subject,
            route=f"{request.method} {getattr(request.scope.get('route'), 'path', request.url.path)}",
            parameters={"subject": subject} if subject else {}, branch_filter=None, rows=None,
            bytes=None, content_sha256=None, duration_ms=None, status=status, detail=detail)
        await audit.append(event)
    except Exception:
        log.exception("could not audit a refusal (%s %s)", status, request.url.path)


async def refuse(request: Request, status: int, detail: str, principal: Principal | None = None,
                 challenge: str | None = None) -> NoReturn:
    """Audit and raise the refusal: 401 carries `challenge` (default: invalid_token with `detail`)."""
    await audit_denial(request, status, detail, principal)
    if status == 401 and challenge is None:
        challenge = bearer_challenge("invalid_token", detail)
    raise HTTPException(status, detail, headers={"WWW-Authenticate": challenge} if challenge else None)


def _unavailable(what: str) -> HTTPException:
    return HTTPException(503, f"{what} is unavailable; see the API log")


# ---------------------------------------------------------------- the principal


async def current_principal(request: Request, verifier: VerifierDep, directory: DirectoryDep,
                            policy: PolicyDep) -> Principal:
    """The verified caller of this request (see the module docstring for every refusal)."""
    authorization = request.headers.get("authorization")
    api_key = request.headers.get("x-api-key")
    if authorization is None and api_key is None:
        await refuse(request, 401, "no credentials: send 'Authorization: Bearer <token>'", None, bearer_challenge())
    if authorization is not None and api_key is not None:
        await refuse(request, 400, "send either a bearer token or an API key, not both")
    if authorization is not None:
        principal = await _from_bearer(request, authorization, verifier, directory, policy)
    else:
        principal = await _from_api_key(request, str(api_key))
    if principal.role not in policy.roles:
        await refuse(request, 403, "the caller's role is not in the access policy", principal,
                     bearer_challenge("insufficient_scope", "unknown role"))
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


async def _from_bearer(request: Request, authorization: str, verifier: TokenVerifier,
                       directory: EmployeeDirectory | None, policy: AccessPolicy) -> Principal:
    try:
        token = parse_bearer(authorization)
        claims = await run_in_threadpool(verifier.verify, token) if verifier.blocking else verifier.verify(token)
        subject = _SUBJECT.match(str(claims["sub"]))
        if subject is None:
            raise InvalidToken("the token's subject is not recognised")
        request.state.verified_subject = subject.group(0)
        scopes, auth_time, mfa_at = _session_claims(claims)
    except InvalidToken as error:
        await refuse(request, 401, error.description)
    except KeysUnavailable as error:
        log.error("token keys unavailable: %s", error)
        raise _unavailable("token verification") from None
    prefix, name = subject.group(1), subject.group(2)
    if prefix == "emp":
        return await _employee(request, name, directory, policy, (scopes, auth_time, mfa_at))
    role, branches = await _claimed_role(request, claims, policy)
    return Principal(subject.group(0), _CLAIM_KINDS[prefix], role, branches, scopes, auth_time, mfa_at)


def _session_claims(claims: Mapping[str, Any]) -> tuple[frozenset[str], datetime | None, datetime | None]:
    """Scopes, auth_time and mfa_at (or auth_time when `amr` says the sign-in used a one-time password)."""
    scope = claims.get("scope", "")
    amr = claims.get("amr", [])
    if not isinstance(scope, str) or not isinstance(amr, list):
        raise InvalidToken("the token's scope or amr claim is malformed")
    auth_time, mfa_at = _instant(claims, "auth_time"), _instant(claims, "mfa_at")
    if mfa_at is None and "otp" in amr:
        mfa_at = auth_time
    return frozenset(scope.split()), auth_time, mfa_at


def _instant(claims: Mapping[str, Any], name: str) -> datetime | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidToken(f"the token's {name} claim is not a number")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise InvalidToken(f"the token's {name} claim is out of range") from None


async def _employee(request: Request, name: str, directory: EmployeeDirectory | None, policy: AccessPolicy,
                    session: tuple[frozenset[str], datetime | None, datetime | None]) -> Principal:
    if not name.isdigit() or len(name) > 12:
        await refuse(request, 401, "the token's subject is not recognised")
    if directory is None:
        log.error("no employee directory: the app's lifespan has not run")
        raise _unavailable("the employee directory")
    try:
        record = await run_in_threadpool(directory.lookup, int(name))
    except Exception:
        log.exception("employee lookup failed")
        raise _unavailable("the employee directory") from None
    subject = f"emp:{int(name)}"
    if record is None:
        await refuse(request, 401, "the token's employee is unknown")
    if record.status != "active":
        await refuse(request, 401, f"the employee is {record.status}, not active")
    role = policy.role_for_employee(record.role_code, record.branch_code)
    if role is None:
        await refuse(request, 403, f"the employee role {record.role_code!r} has no analytics access", None,
                     bearer_challenge("insufficient_scope", "no analytics role"))
    branches = None if policy.role(role).branch_scope == "all" else frozenset({record.branch_code})
    return Principal(subject, "person", role, branches, *session, employee_id=record.employee_id)


async def _claimed_role(request: Request, claims: Mapping[str, Any],
                        policy: AccessPolicy) -> tuple[str, frozenset[str] | None]:
    """Role and branches of a `user:`/`client:`/`key:` token; branches ["*"] or absent: all (if the role allows)."""
    role, value = claims.get("role"), claims.get("branches")
    if not isinstance(role, str) or not role:
        await refuse(request, 401, "the token names no role")
    if role not in policy.roles:
        await refuse(request, 403, "the token's role is not in the access policy", None,
                     bearer_challenge("insufficient_scope", "unknown role"))
    if value is None or value == ["*"]:
        if policy.role(role).branch_scope == "own":
            await refuse(request, 401, "the token names no branches for a branch-scoped role")
        return role, None
    if not isinstance(value, list) or not all(isinstance(b, str) and _BRANCH_CODE.match(b) for b in value):
        await refuse(request, 401, "the token's branches claim is malformed")
    return role, frozenset(value)


async def _from_api_key(request: Request, raw: str) -> Principal:
    credentials = _optional("api.access.credentials")
    if credentials is None:
        await refuse(request, 401, "API keys are not accepted yet")
    if not raw or len(raw) > MAX_API_KEY_CHARS:
        await refuse(request, 401, "the API key is not valid")
    client_ip = request.client.host if request.client else ""
    principal: Principal | None = await credentials.principal_from_api_key(raw, client_ip)
    if principal is None:
        await refuse(request, 401, "the API key is not valid")
    return principal


# ---------------------------------------------------------------- rights


def may_read(policy: AccessPolicy, principal: Principal, family: str) -> bool:
    """The role reads `family`; a service or API key must also hold the scope `read:<family>`."""
    role = policy.roles.get(principal.role)
    if role is None or family not in role.families:
        return False
    return principal.kind == "person" or f"read:{family}" in principal.scopes


def require_family(family: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting only principals that may read `family` (403, audited, otherwise)."""

    async def dependency(request: Request, principal: CurrentPrincipal, policy: PolicyDep) -> Principal:
        if family not in policy.families:
            log.error("route %s requires family %r, which the access policy does not know", request.url.path, family)
        if not may_read(policy, principal, family):
            await refuse(request, 403, f"the role {principal.role} may not read {family}", principal,
                         bearer_challenge("insufficient_scope", f"{family} is not readable"))
        return principal

    dependency.__name__ = f"require_family_{family}"
    return dependency


def require_recent_mfa(max_age: timedelta = timedelta(minutes=15)) -> Callable[..., Awaitable[Principal]]:
    """A dependency for sensitive reports: the role must allow them (403) and MFA be within `max_age` (401)."""
    seconds = int(max_age.total_seconds())

    async def dependency(request: Request, principal: CurrentPrincipal, policy: PolicyDep,
                         clock: ClockDep) -> Principal:
        if not policy.role(principal.role).sensitive:
            await refuse(request, 403, f"the role {principal.role} may not run sensitive reports", principal,
                         bearer_challenge("insufficient_scope", "sensitive reports are not allowed"))
        if principal.mfa_at is None or clock.now() - principal.mfa_at > max_age:
            description = f"a multi-factor sign-in within the last {seconds // 60} minutes is required"
            await refuse(request, 401, description, principal,
                         bearer_challenge("insufficient_user_authentication", description, [("max_age", str(seconds))]))
        return principal

    return dependency
