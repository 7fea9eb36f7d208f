"""Rate limits and account lockout, shared by every API process through Redis.

Contract:
- `RateLimiter` counts hits in a moving window (`limits`' Redis storage: one atomic Lua script per hit, so
  any number of processes on one Redis share one budget exactly). `hit(limit, *key)` answers a
  `RateDecision`; a refusal carries `retry_after` (whole seconds until the oldest hit leaves the window,
  at least 1). `raise_if_refused` turns a refusal into 429 with `Retry-After`.
- Per principal (`rate_limit_principal`) and per API key (`rate_limit_api_key`): `principal_rate_limit(dep)`
  is a FastAPI dependency for routers; when Redis cannot be reached it lets the request through and logs
  (availability over throttling). The token endpoint's limits (`check_token_request`: per client IP and per
  login name) fail closed: 503 when Redis is unreachable.
- `Lockout`: `record_failure(login)` counts failed sign-ins in a window of `lockout_window_minutes`; the
  `lockout_threshold`-th failure locks the login for `lockout_minutes` (`LockState.locked_for` > 0) and
  clears the count. `locked_for(login)` tells the remaining lock in seconds (0: not locked); `clear(login)`
  forgets the failures after a successful sign-in. Times come from Redis (TTL), the same for every process.
  Logins are compared case-insensitively and kept in Redis only as a SHA-256 digest.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import limits
from fastapi import Depends, HTTPException, Request
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.asyncio import Redis

from infra.access_settings import IdentitySettings

if TYPE_CHECKING:
    from api.access.principal import Principal

log = logging.getLogger("luckygas.identity.limits")

_FAILURE_SCRIPT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
if n >= tonumber(ARGV[2]) then
  redis.call('SET', KEYS[2], '1', 'EX', ARGV[3])
  redis.call('DEL', KEYS[1])
end
return {n, redis.call('TTL', KEYS[2])}
"""


class LimiterUnavailable(RuntimeError):
    """Redis could not be reached to count a hit or a failure."""


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    limit: str
    remaining: int
    retry_after: int  # seconds; 0 when allowed


def login_digest(login: str) -> str:
    return hashlib.sha256(login.strip().casefold().encode()).hexdigest()[:32]


class RateLimiter:
    """Moving-window limits on Redis (see the module contract)."""

    def __init__(self, settings: IdentitySettings, storage: RedisStorage | None = None) -> None:
        self.settings = settings
        self.storage = storage or RedisStorage(f"async+{settings.redis_url}", implementation="redispy",
                                               key_prefix=f"{settings.redis_key_prefix}:rl", wrap_exceptions=True)
        self._strategy = MovingWindowRateLimiter(self.storage)
        self.principal_limit = limits.parse(settings.rate_limit_principal)
        self.api_key_limit = limits.parse(settings.rate_limit_api_key)
        self.token_ip_limit = limits.parse(settings.rate_limit_token_ip)
        self.token_login_limit = limits.parse(settings.rate_limit_token_login)

    async def hit(self, limit: limits.RateLimitItem, *key: str) -> RateDecision:
        try:
            if await self._strategy.hit(limit, *key):
                stats = await self._strategy.get_window_stats(limit, *key)
                return RateDecision(True, str(limit), stats.remaining, 0)
            stats = await self._strategy.get_window_stats(limit, *key)
        except Exception as error:  # limits wraps every storage error; a Redis outage is not a 500
            raise LimiterUnavailable(f"rate-limit storage unreachable: {type(error).__name__}") from error
        return RateDecision(False, str(limit), 0, max(1, math.ceil(stats.reset_time - time.time())))

    async def check_principal(self, principal: Principal) -> RateDecision:
        limit = self.api_key_limit if principal.kind == "api_key" else self.principal_limit
        return await self.hit(limit, "principal", principal.subject)

    async def check_token_request(self, client_ip: str, login: str | None) -> RateDecision:
        """The stricter limits of `/oauth/token`: per client IP, then per login name (if one is given)."""
        decision = await self.hit(self.token_ip_limit, "token-ip", client_ip)
        if decision.allowed and login:
            decision = await self.hit(self.token_login_limit, "token-login", login_digest(login))
        return decision

    async def close(self) -> None:
        bridge = getattr(self.storage, "bridge", None)
        connection = getattr(bridge, "storage", None)
        if connection is not None and hasattr(connection, "aclose"):
            await connection.aclose()


def raise_if_refused(decision: RateDecision, what: str = "requests") -> None:
    if not decision.allowed:
        raise HTTPException(429, f"too many {what}: limit {decision.limit}; retry after {decision.retry_after} s",
                            headers={"Retry-After": str(decision.retry_after)})


@dataclass(frozen=True, slots=True)
class LockState:
    failures: int
    locked_for: int  # seconds left; 0 when not locked


class Lockout:
    """Failed sign-ins per login and the temporary lock that follows (see the module contract)."""

    def __init__(self, settings: IdentitySettings, redis: Redis[Any]) -> None:
        self.settings = settings
        self.redis = redis
        self._script = redis.register_script(_FAILURE_SCRIPT)

    def _keys(self, login: str) -> tuple[str, str]:
        digest = login_digest(login)
        prefix = self.settings.redis_key_prefix
        return f"{prefix}:fail:{digest}", f"{prefix}:lock:{digest}"

    async def locked_for(self, login: str) -> int:
        try:
            ttl = int(await self.redis.ttl(self._keys(login)[1]))
        except Exception as error:
            raise LimiterUnavailable(f"lockout storage unreachable: {type(error).__name__}") from error
        return max(0, ttl)

    async def record_failure(self, login: str) -> LockState:
        s = self.settings
        try:
            failures, ttl = await self._script(keys=list(self._keys(login)), args=[
                s.lockout_window_minutes * 60, s.lockout_threshold, s.lockout_minutes * 60])
        except Exception as error:
            raise LimiterUnavailable(f"lockout storage unreachable: {type(error).__name__}") from error
        return LockState(int(failures), max(0, int(ttl)))

    async def clear(self, login: str) -> None:
        try:
            await self.redis.delete(self._keys(login)[0])
        except Exception as error:
            raise LimiterUnavailable(f"lockout storage unreachable: {type(error).__name__}") from error


def principal_rate_limit(principal_dependency: Callable[..., Any]) -> Callable[..., Awaitable[None]]:
    """A router dependency: 429 with Retry-After once the caller's principal (or API key) is over its limit.

    `principal_dependency` is the app's principal dependency (`api.access.principal.current_principal`);
    FastAPI resolves it once per request, so routes that also ask for the principal do not verify twice.
    The limiter is `request.app.state.identity.limiter`; without one (identity provider not wired), no limit.
    """

    # A default, not Annotated[...]: the dependency is a local name the postponed annotation could not resolve.
    async def enforce(request: Request, principal: Any = Depends(principal_dependency)) -> None:  # noqa: B008
        identity = getattr(request.app.state, "identity", None)
        if identity is None:
            return
        try:
            decision = await identity.limiter.check_principal(principal)
        except LimiterUnavailable as error:
            log.warning("rate limit not applied to %s: %s", principal.subject, error)
            return
        raise_if_refused(decision)

    return enforce
