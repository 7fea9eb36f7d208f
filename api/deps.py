"""Dependencies every route shares: the settings, the clock, the access policy and a ClickHouse client.

Contract: the app factory puts the settings, clock and policy on `app.state`; its lifespan puts one
`ClickHousePool` there (`app.state.clickhouse`) and closes it at shutdown. `get_clickhouse` lends a request
one client of that pool and takes it back afterwards; "ClickHouse is unreachable" (or the pool is not
started, or every client stays busy) is a 503 with a message that names no address and no exception text
(the cause goes to the log). Tests override any of these with `app.dependency_overrides`.

clickhouse-connect clients carry a session id, and ClickHouse refuses two concurrent queries in one session,
so the pool lends each client to one request at a time; clients are made on first need (never at import or
app creation: no network until a request needs it) and reused for the app's lifetime.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Annotated

from clickhouse_connect.driver.client import Client
from fastapi import Depends, HTTPException, Request

from api.access.policy import AccessPolicy
from infra.clock import Clock
from infra.settings import StackSettings

log = logging.getLogger("luckygas.api")

CLICKHOUSE_UNREACHABLE = "ClickHouse is unreachable; see the API log"
POOL_SIZE = 8
POOL_WAIT_SECONDS = 5.0


class ClickHouseUnavailable(Exception):
    """No client could be lent: the server does not answer, the pool is closed, or every client stayed busy."""


class ClickHousePool:
    """Up to `size` clients made by `factory`, each lent to one caller at a time (thread-safe)."""

    def __init__(self, factory: Callable[[], Client], size: int = POOL_SIZE,
                 wait_seconds: float = POOL_WAIT_SECONDS) -> None:
        self._factory = factory
        self._size = size
        self._wait = wait_seconds
        self._idle: list[Client] = []
        self._made = 0
        self._closed = False
        self._cond = threading.Condition()

    @property
    def size(self) -> int:
        return self._size

    def acquire(self) -> Client:
        """An idle client, or a new one while fewer than `size` exist; ClickHouseUnavailable otherwise."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._closed or self._idle or self._made < self._size, self._wait):
                raise ClickHouseUnavailable("every ClickHouse client stayed busy")
            if self._closed:
                raise ClickHouseUnavailable("the ClickHouse pool is closed")
            if self._idle:
                return self._idle.pop()
            self._made += 1
        try:
            return self._factory()
        except Exception as error:
            with self._cond:
                self._made -= 1
                self._cond.notify()
            raise ClickHouseUnavailable(f"cannot connect to ClickHouse: {error}") from error

    def release(self, client: Client) -> None:
        """Take a lent client back (closed at once when the pool is closed)."""
        with self._cond:
            if not self._closed:
                self._idle.append(client)
                self._cond.notify()
                return
            self._made -= 1
        client.close()

    def close(self) -> None:
        """Close every idle client; clients still lent are closed when they come back. Idempotent."""
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._made -= len(idle)
            self._cond.notify_all()
        for client in idle:
            client.close()


def get_settings_dep(request: Request) -> StackSettings:
    settings: StackSettings = request.app.state.settings
    return settings


def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


def get_policy(request: Request) -> AccessPolicy:
    policy: AccessPolicy = request.app.state.policy
    return policy


SettingsDep = Annotated[StackSettings, Depends(get_settings_dep)]
ClockDep = Annotated[Clock, Depends(get_clock)]
PolicyDep = Annotated[AccessPolicy, Depends(get_policy)]


def clickhouse_pool(request: Request) -> ClickHousePool:
    """The app's pool; 503 when the app was not started (its lifespan makes the pool)."""
    pool: ClickHousePool | None = getattr(request.app.state, "clickhouse", None)
    if pool is None:
        log.error("no ClickHouse pool: the app's lifespan has not run")
        raise HTTPException(503, CLICKHOUSE_UNREACHABLE)
    return pool


ClickHousePoolDep = Annotated[ClickHousePool, Depends(clickhouse_pool)]


def get_clickhouse(request: Request) -> Iterator[Client]:
    """One pooled client for this request (503 when none can be had)."""
    pool = clickhouse_pool(request)
    try:
        client = pool.acquire()
    except ClickHouseUnavailable as error:
        log.warning("ClickHouse unavailable: %s", error)
        raise HTTPException(503, CLICKHOUSE_UNREACHABLE) from None
    try:
        yield client
    finally:
        pool.release(client)


ClickHouseDep = Annotated[Client, Depends(get_clickhouse)]
