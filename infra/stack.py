"""Bring the whole local stack up, report on it, and take it down.

    python -m infra.stack up [--backfill-days N]   # start everything in the background, return when healthy
    python -m infra.stack run                       # up, then the live simulator in the foreground; Ctrl-C,
                                                    # SIGTERM or SIGHUP stops all (exit 0)
    python -m infra.stack bank-pull                 # ask the running bank import to pull its inbox now
    python -m infra.stack status | down | clean

Contract: every command is idempotent. `up` starts only what is not running, backfills the operational
database only when it holds no orders, writes the bank's statements of the last days not yet written into
the local SFTP server's inbox, and returns (exit 0) only when PostgreSQL, ClickHouse, Kafka, Kafka Connect
with its connector, the streaming worker, the API, the SFTP server, the bank import and the bank landing
agent are all healthy; otherwise it exits 1 naming the failing part and the tail of its log. All state
lives under `settings.state_dir`; `clean` stops everything and removes it. `up` starts the supervisor
(infra/supervisor.py) last, which restarts the project's own processes when they die; `down` stops it first.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import psycopg

from connectors.bank.settings import sftp_keys_dir, sftp_root_dir
from infra.clickhouse.access import bi_logins, current_plan, provision_users, provision_views
from infra.clickhouse.runner import clickhouse_healthy, start_clickhouse, stop_clickhouse
from infra.kafka.broker import kafka_healthy, start_kafka, stop_kafka
from infra.kafka.connect import connect_healthy, register_connector, start_connect, stop_connect
from infra.kafka.jars import ensure_jars
from infra.postgres.runner import apply_schema, postgres_healthy, start_postgres, stop_postgres
from infra.postgres.tables import CAPTURED_TABLES
from infra.process import StackError
from infra.redis.runner import redis_healthy, start_redis, stop_redis
from infra.services import (
    api_healthy,
    bank_importer_healthy,
    bank_landing_healthy,
    start_bank_services,
    start_services,
    stop_bank_services,
    stop_services,
    worker_healthy,
    worker_status,
)
from infra.settings import StackSettings, get_settings, settings_env
from infra.sftp.runner import sftp_healthy, start_sftp, stop_sftp
from infra.simulator.statements import write_statements
from infra.status import read_status
from infra.supervisor import start_supervisor, stop_supervisor, supervisor_healthy, supervisor_summary

if TYPE_CHECKING:
    from api.access.seed_demo_users import DemoUser


@dataclass(frozen=True)
class Part:
    """One component of the stack and how to tell it is healthy."""

    name: str
    where: Callable[[StackSettings], str]
    healthy: Callable[[StackSettings], bool]


PARTS: tuple[Part, ...] = (
    Part("postgres", lambda s: f"postgresql://{s.postgres.user}@{s.postgres.host}:{s.postgres.port}/{s.postgres.database}",
         postgres_healthy),
    Part("clickhouse", lambda s: f"{s.clickhouse.http_url()}/play (native :{s.clickhouse.tcp_port})",
         clickhouse_healthy),
    Part("kafka", lambda s: f"kafka://{s.kafka.bootstrap_servers}", kafka_healthy),
    Part("connect", lambda s: f"{s.connect.rest_url}/connectors/{s.connect.connector_name}/status", connect_healthy),
    Part("worker", lambda s: worker_status(s)[1], worker_healthy),
    Part("redis", lambda s: f"{s.identity.redis_url} (rate limits, sign-in lockout)",
         lambda s: redis_healthy(*redis_address(s))),
    Part("api", lambda s: f"{s.api_url('/docs')} (HTTPS, CA {s.api_tls_files().ca_certificate}; sign in: "
                          "POST /oauth/token; health/live, health/ready, freshness, metrics, kpis/today, audit, keys)",
         api_healthy),
    Part("sftp", lambda s: f"sftp://{s.bank.sftp_username}@{s.bank.sftp_host}:{s.bank.sftp_port} "
                           f"(the bank's stand-in; files in {sftp_root_dir(s.state_dir)})",
         lambda s: sftp_healthy(s.bank.sftp_host, s.bank.sftp_port)),
    Part("bank-import", lambda s: f"daily at {s.bank.run_at:%H:%M} Asia/Taipei; `make bank-pull` pulls now; "
                                  f"status {s.bank_importer_status_file}", bank_importer_healthy),
    Part("bank-landing", lambda s: f"{s.clickhouse.http_url()}/play: v_bank_statements, v_bank_movements, "
                                   "bank_import_exceptions, bank_reconciliation_summary / _latest",
         bank_landing_healthy),
)
# Started after every part of PARTS is healthy (so not waited for with them), reported with them.
SUPERVISOR_PART = Part("supervisor", supervisor_summary, supervisor_healthy)


def database_has_orders(settings: StackSettings) -> bool:
    with psycopg.connect(settings.postgres.dsn()) as conn:
        row = conn.execute("SELECT EXISTS (SELECT 1 FROM w200.order_master)").fetchone()
    return bool(row and row[0])


def simulator_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "infra.simulator", *args]


def child_env(settings: StackSettings) -> dict[str, str]:
    """The environment of a child process that must see these same settings."""
    return {**os.environ, **settings_env(settings)}


def backfill(settings: StackSettings, days: int, seed: int = 42, extra: tuple[str, ...] = ()) -> None:
    """Write `days` of history into an empty operational database (skipped when it has orders)."""
    if days <= 0 or database_has_orders(settings):
        return
    print(f"backfilling {days} days of history into PostgreSQL …", flush=True)
    started = time.monotonic()
    cmd = simulator_command("backfill", "--days", str(days), "--seed", str(seed), *extra)
    subprocess.run(cmd, check=True, env=child_env(settings))
    print(f"backfill done in {time.monotonic() - started:.0f}s", flush=True)


def up(settings: StackSettings, backfill_days: int, backfill_args: tuple[str, ...] = ()) -> list[DemoUser]:
    """Start every part that is not running and wait until all are healthy; the demo sign-ins."""
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    ensure_jars(settings)
    start_postgres(settings)
    apply_schema(settings)
    start_clickhouse(settings)
    # BI logins from the role file: written before anyone connects (restarts ClickHouse only when they changed).
    bi_plan = current_plan(settings)
    provision_users(settings, bi_plan)
    start_kafka(settings)
    # History is written before Connect starts, so Debezium's snapshot carries it in one pass.
    backfill(settings, backfill_days, extra=backfill_args)
    start_connect(settings)
    register_connector(settings, list(CAPTURED_TABLES))
    users = prepare_access(settings)
    start_redis(*redis_address(settings), settings.state_dir)
    start_services(settings)
    start_bank_import(settings)
    wait_healthy(settings, timeout=180)
    provision_views(settings, bi_plan)  # over the worker's and the bank landing's tables
    start_supervisor(settings)  # last: it restarts only what is up and healthy
    return users


def redis_address(settings: StackSettings) -> tuple[str, int]:
    """(host, port) of the Redis the API's rate limits use (from `identity.redis_url`)."""
    url = urlsplit(settings.identity.redis_url)
    return url.hostname or "127.0.0.1", url.port or 6379


def prepare_access(settings: StackSettings) -> list[DemoUser]:
    """The audit trail's schema and the local stack's demo sign-ins (passwords kept in the state dir)."""
    from api.access.audit_pg import ensure_audit_schema
    from api.access.seed_demo_users import demo_passwords_file, seed_demo_users

    asyncio.run(ensure_audit_schema(settings.postgres.dsn(), retention_years=settings.audit.retention_years))
    return seed_demo_users(settings.postgres.dsn(), demo_passwords_file(settings.state_dir))


def print_demo_users(settings: StackSettings, users: list[DemoUser]) -> None:
    from api.access.seed_demo_users import demo_passwords_file, format_demo_users

    ca = f"--cacert {settings.api_tls_files().ca_certificate} " if settings.api.tls else ""
    print(f"\ndemo sign-ins (kept in {demo_passwords_file(settings.state_dir)}); a token:\n"
          f"  curl -s {ca}{settings.api_url('/oauth/token')} -d grant_type=password "
          f"-d client_id={settings.identity.web_client_id} "
          f"-d username=<user> -d password=<password>\n{format_demo_users(users)}", flush=True)


def print_reports(settings: StackSettings) -> None:
    """Where the report catalog is: its listing, one example in each format, the API's documentation."""
    ca = f"--cacert {settings.api_tls_files().ca_certificate} " if settings.api.tls else ""
    base = settings.api_url("/reports")
    print(f"\nreport catalog (every report, its parameters: {settings.api_url('/docs')}#/reports):\n"
          f"  curl -s {ca}-H 'Authorization: Bearer <token>' {base}\n"
          f"  curl -s {ca}-H 'Authorization: Bearer <token>' '{base}/daily_sales?format=pdf' -o daily_sales.pdf\n"
          f"  formats: json, csv (Excel zh-TW), xlsx, parquet, pdf (P&L, balance sheet, AR aging, daily sales, "
          f"daily dispatch)", flush=True)


def start_bank_import(settings: StackSettings) -> None:
    """The SFTP server (its keys made on first start; the statements of the last days not yet written put in
    its inbox) and the bank import and landing services."""
    root = sftp_root_dir(settings.state_dir)
    start_sftp(settings.bank.sftp_host, settings.bank.sftp_port, root, sftp_keys_dir(settings.state_dir),
               settings.state_dir)
    if settings.bank.local_statement_days > 0:
        # Only days not yet written: files the importer moved to archive/ or rejected/ count as written.
        written = write_statements(settings.postgres.dsn(), root / settings.bank.remote_inbox_dir.strip("/"),
                                   settings.bank.local_statement_days, seed=42, end=None,
                                   archived=[root / settings.bank.remote_archive_dir.strip("/"),
                                             root / settings.bank.remote_rejected_dir.strip("/")])
        if written:
            print(f"the bank's SFTP inbox got {len(written)} new statement files", flush=True)
    start_bank_services(settings)


def request_bank_pull(settings: StackSettings) -> None:
    """Ask the running bank import to pull now (SIGUSR1), as an operator would after a late delivery."""
    status = read_status(settings.bank_importer_status_file, settings.api.worker_stale_seconds)[0]
    if status is None:
        raise StackError("the bank import is not running (make up)")
    os.kill(int(status["pid"]), signal.SIGUSR1)


def wait_healthy(settings: StackSettings, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        sick = [p.name for p in PARTS if not p.healthy(settings)]
        if not sick:
            return
        if time.monotonic() > deadline:
            raise StackError(f"not healthy after {timeout:.0f}s: {', '.join(sick)} (logs in {settings.logs_dir})")
        time.sleep(1)


def down(settings: StackSettings) -> None:
    """Stop every part: the supervisor first (so it restarts nothing), our services, then Connect (it commits
    its offsets while Kafka is still there)."""
    stop_supervisor(settings)
    stop_bank_services(settings)
    stop_sftp(settings.state_dir)
    stop_services(settings)
    stop_redis(settings.state_dir)
    stop_connect(settings)
    stop_kafka(settings)
    stop_clickhouse(settings)
    stop_postgres(settings)


def status(settings: StackSettings) -> bool:
    ok = True
    for part in (*PARTS, SUPERVISOR_PART):
        healthy = part.healthy(settings)
        ok = ok and healthy
        print(f"{part.name:<11} {'healthy' if healthy else 'DOWN':<8} {part.where(settings)}")
    print(f"{'state':<11} {'':<8} {settings.state_dir} (logs: {settings.logs_dir})")
    return ok


def clean(settings: StackSettings) -> None:
    """Stop everything and remove all local state (the Maven cache in ~/.m2 stays)."""
    down(settings)
    shutil.rmtree(settings.state_dir, ignore_errors=True)


SHUTDOWN_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class ShutdownRequested(KeyboardInterrupt):
    """Raised in the main thread by SIGINT, SIGTERM or SIGHUP during `run_foreground`: Ctrl-C's path."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def stop_live(live: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """SIGINT (the live simulator rolls back its open transaction and prints its summary), SIGKILL if it has
    not exited after `timeout` seconds."""
    if live.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            live.send_signal(signal.SIGINT)
        try:
            live.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            live.kill()
            live.wait()


def run_foreground(start_live: Callable[[], subprocess.Popen[bytes]], stop_all: Callable[[], None],
                   live_timeout: float = 30.0) -> int | None:
    """Call `start_live` and wait for the process it returns; on SIGINT, SIGTERM or SIGHUP (or when that
    process ends, or `start_live` raises) stop it (`stop_live`) and call `stop_all`, once. The first signal
    starts the shutdown; any later one is ignored, so it cannot cut `stop_all` short. Returns the signal that
    stopped it, None when the process ended by itself; an error of `start_live` propagates after `stop_all`.
    The previous signal handlers are restored on return."""
    previous = {sig: signal.getsignal(sig) for sig in SHUTDOWN_SIGNALS}
    armed = True  # a Python-level handler, not SIG_IGN: children started while stopping get default dispositions

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        nonlocal armed
        if armed:
            armed = False
            raise ShutdownRequested(signum)

    for sig in SHUTDOWN_SIGNALS:
        signal.signal(sig, on_signal)
    live: subprocess.Popen[bytes] | None = None
    received: int | None = None
    try:
        live = start_live()
        live.wait()
    except ShutdownRequested as stop:
        received = stop.signum
    finally:
        armed = False
        try:
            if live is not None:
                stop_live(live, live_timeout)
            stop_all()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    return received


def run(settings: StackSettings, backfill_days: int, rate: float) -> None:
    """`up`, print where everything is, run the live simulator until Ctrl-C, SIGTERM or SIGHUP (a closed
    terminal, a service manager), then stop everything. Also a failed or interrupted `up` stops what it
    started: `run` never leaves the stack running behind it."""

    def start_live() -> subprocess.Popen[bytes]:
        users = up(settings, backfill_days)
        status(settings)
        print_demo_users(settings, users)
        print_reports(settings)
        print("\nClickHouse for BI tools (database luckygas_bi; see README):\n  " + "\n  ".join(bi_logins(settings)))
        print("\nthe streaming worker may still be applying the initial snapshot (the screens and /health say so):"
              " `make catch-up` shows its progress and ETA")
        print(f"\nlive simulator at {rate} row changes/s — Ctrl-C stops the whole stack\n", flush=True)
        return subprocess.Popen(simulator_command("live", "--rate", str(rate)), env=child_env(settings))

    def stop_all() -> None:
        with contextlib.suppress(OSError):  # after SIGHUP the terminal may be gone: stop anyway
            print("\nstopping the stack …", flush=True)
        down(settings)

    run_foreground(start_live, stop_all)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.stack", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="start everything in the background; return when healthy")
    p_run = sub.add_parser("run", help="up + live simulator in the foreground; Ctrl-C, SIGTERM or SIGHUP stops "
                                       "everything (exit 0)")
    for p in (p_up, p_run):
        p.add_argument("--backfill-days", type=int, default=90)
    p_run.add_argument("--rate", type=float, default=2.0, help="live simulator pace, row changes per second")
    sub.add_parser("bank-pull", help="ask the running bank import to pull the SFTP inbox now")
    sub.add_parser("down")
    sub.add_parser("status")
    sub.add_parser("clean")
    args = parser.parse_args(argv)
    settings = get_settings()
    try:
        if args.command == "up":
            up(settings, args.backfill_days)
            return 0 if status(settings) else 1
        if args.command == "run":
            run(settings, args.backfill_days, args.rate)
        elif args.command == "bank-pull":
            request_bank_pull(settings)
        elif args.command == "down":
            down(settings)
        elif args.command == "status":
            return 0 if status(settings) else 1
        elif args.command == "clean":
            clean(settings)
    except StackError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
