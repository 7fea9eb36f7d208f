"""Start, check and stop the local ClickHouse server; give clients for whichever ClickHouse is configured.

Contract: `start_clickhouse` is idempotent and returns once `GET /ping` answers "Ok."; it raises
StackError (with the log's tail) otherwise. `get_client` works the same against the local server or a
real cluster: only settings differ.

The server serves `users_config_file(settings)` when that file exists (infra/clickhouse/access.py writes it;
a changed file takes effect at the next start, `restart_clickhouse`) and keeps `system.query_log` for
QUERY_LOG_DAYS days. The project's own writers keep using `default`, passwordless on loopback only.
"""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path

import clickhouse_connect
import httpx
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.httputil import default_pool_manager

from infra.clickhouse.server import BLOCKING_MARKER, LOADED_USERS_FILE
from infra.process import ManagedProcess, StackError, wait_until
from infra.settings import StackSettings

# Retention of system.query_log, the audit trail of direct (BI) access: a year and a month.
QUERY_LOG_DAYS = 400


def users_config_file(settings: StackSettings) -> Path:
    """Where the local server's users file is written (infra/clickhouse/access.py); absent: `default` only."""
    return settings.state_dir / "clickhouse" / "users.xml"


def loaded_users_file(settings: StackSettings) -> Path:
    """The copy of the users file the running local server read at its start (absent: none was given)."""
    return settings.state_dir / "clickhouse" / "run" / LOADED_USERS_FILE


def clickhouse_process(settings: StackSettings) -> ManagedProcess:
    ch = settings.clickhouse
    argv = [sys.executable, "-m", "infra.clickhouse.server", "--data", str(settings.state_dir / "clickhouse" / "data"),
            "--http-port", str(ch.http_port), "--tcp-port", str(ch.tcp_port), "--query-log-days", str(QUERY_LOG_DAYS)]
    users = users_config_file(settings)
    if users.exists():
        argv += ["--users-config", str(users)]
    return ManagedProcess("clickhouse", argv, settings.state_dir, stop_timeout=30)


def clickhouse_healthy(settings: StackSettings) -> bool:
    try:
        response = httpx.get(f"{settings.clickhouse.http_url()}/ping", timeout=2)
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and response.text.strip() == "Ok."


def start_clickhouse(settings: StackSettings, timeout: float = 60.0) -> None:
    process = clickhouse_process(settings)
    if not process.running() and not clickhouse_healthy(settings):
        process.start()
    wait_until(lambda: clickhouse_healthy(settings) or not process.running(), timeout, "ClickHouse",
               process.log_file)
    if not clickhouse_healthy(settings):
        raise StackError(f"ClickHouse exited during start; see {process.log_file}")
    ensure_database(settings)


def stop_clickhouse(settings: StackSettings, timeout: float = 15.0) -> None:
    """End the server's blocking query (a clean engine shutdown); SIGTERM if it does not exit in time.
    The server waits for idle HTTP keep-alive connections before it exits (~5 s): this process's are closed
    first (clients reconnect by themselves); other processes' still make the stop that much longer."""
    process = clickhouse_process(settings)
    default_pool_manager().clear()
    if process.running() and clickhouse_healthy(settings):
        with contextlib.suppress(httpx.HTTPError):
            httpx.post(settings.clickhouse.http_url(), timeout=5,
                       content=f"KILL QUERY WHERE query LIKE '%{BLOCKING_MARKER}%' AND query NOT LIKE '%KILL%' SYNC")
        with contextlib.suppress(StackError):
            wait_until(lambda: not process.running(), timeout, "ClickHouse shutdown")
    process.stop()


def restart_clickhouse(settings: StackSettings, timeout: float = 60.0) -> float:
    """Stop the local server cleanly and start it again (it then reads the users file anew); the seconds taken."""
    started = time.monotonic()
    stop_clickhouse(settings)
    start_clickhouse(settings, timeout)
    return time.monotonic() - started


def kill_clickhouse(settings: StackSettings) -> None:
    clickhouse_process(settings).kill()


def get_client(settings: StackSettings, database: str | None = None) -> Client:
    """A clickhouse-connect HTTP client for the configured server and database."""
    ch = settings.clickhouse
    return clickhouse_connect.get_client(
        host=ch.host, port=ch.http_port, username=ch.user, password=ch.password.get_secret_value(),
        database=database if database is not None else ch.database, secure=ch.secure, compress=ch.compress,
    )


def ensure_database(settings: StackSettings) -> None:
    """Create the analytics database if it is missing."""
    client = get_client(settings, database="default")
    try:
        client.command(f"CREATE DATABASE IF NOT EXISTS `{settings.clickhouse.database}`")
    finally:
        client.close()
