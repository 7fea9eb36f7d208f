"""Dependencies every route shares: the settings, a ClickHouse client, the clock.

Contract: the app factory puts the settings and clock on `app.state`; `get_clickhouse` opens one client per
request from those settings and closes it afterwards, and turns "ClickHouse is unreachable" into a 503
with a message (never a 500). Tests override any of these with `app.dependency_overrides`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from clickhouse_connect.driver.client import Client
from fastapi import Depends, HTTPException, Request

from infra.clickhouse.runner import get_client
from infra.clock import Clock
from infra.settings import StackSettings


def get_settings_dep(request: Request) -> StackSettings:
    settings: StackSettings = request.app.state.settings
    return settings


def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


SettingsDep = Annotated[StackSettings, Depends(get_settings_dep)]
ClockDep = Annotated[Clock, Depends(get_clock)]


def get_clickhouse(settings: SettingsDep) -> Iterator[Client]:
    try:
        client = get_client(settings)
    except Exception as error:
        raise HTTPException(503, f"ClickHouse is unreachable: {error}") from None
    try:
        yield client
    finally:
        client.close()


ClickHouseDep = Annotated[Client, Depends(get_clickhouse)]
