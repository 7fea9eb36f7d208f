"""Run the operational PostgreSQL 15 cluster under the project's state directory.

Contract: `start_postgres` is idempotent. On first use it creates the cluster (initdb as OS user
`postgres`, because PostgreSQL refuses to run as root), configures logical decoding for Debezium, starts
the server on 127.0.0.1 only, and creates the application role (table owner with REPLICATION) and
database. Later calls only start a stopped server. `apply_schema` creates the module tables (idempotent).
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
from pathlib import Path

import psycopg
from psycopg import sql

from infra.process import StackError, port_open, wait_until
from infra.settings import StackSettings

PG_BIN = Path("/usr/lib/postgresql/15/bin")
OS_USER = "postgres"
SCHEMA_SQL = Path(__file__).with_name("schema.sql")

SERVER_CONF = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{socket_dir}'
wal_level = logical
max_wal_senders = 10
max_replication_slots = 10
# A quiet slot must not hold WAL forever; Debezium heartbeats advance it.
max_slot_wal_keep_size = 4GB
shared_buffers = 256MB
synchronous_commit = on
fsync = on
log_min_messages = warning
log_timezone = 'Asia/Taipei'
timezone = 'Asia/Taipei'
"""

HBA_CONF = """
local   all          all                    trust
host    all          all     127.0.0.1/32   scram-sha-256
host    replication  all     127.0.0.1/32   scram-sha-256
"""


def data_dir(settings: StackSettings) -> Path:
    return settings.state_dir / "postgres" / "data"


def _socket_dir(settings: StackSettings) -> Path:
    return settings.state_dir / "postgres" / "run"


def _log_file(settings: StackSettings) -> Path:
    return settings.logs_dir / "postgres.log"


def _as_postgres(argv: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["runuser", "-u", OS_USER, "--", *argv], capture_output=True, text=True, check=False
    )
    if check and result.returncode != 0:
        raise StackError(f"{' '.join(argv[:2])} failed: {result.stderr.strip() or result.stdout.strip()}")
    return result


def _chown_tree(path: Path) -> None:
    pw = pwd.getpwnam(OS_USER)
    os.chown(path, pw.pw_uid, pw.pw_gid)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(root, name), pw.pw_uid, pw.pw_gid)


def _reachable(path: Path) -> None:
    """Let the postgres OS user reach `path`: search (x, not read) for others on each ancestor lacking it, as
    a checkout under a `mktemp -d` directory (0700) has; without it initdb cannot enter its own directory."""
    for parent in reversed(path.parents):
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            try:
                parent.chmod(mode | stat.S_IXOTH)
            except PermissionError as error:
                raise StackError(f"the postgres OS user cannot reach {path}: {parent} lacks o+x and is not "
                                 "ours to change; put the checkout where others may traverse") from error


def _init_cluster(settings: StackSettings) -> None:
    data = data_dir(settings)
    base = data.parent
    base.mkdir(parents=True, exist_ok=True)
    _socket_dir(settings).mkdir(parents=True, exist_ok=True)
    _reachable(base)
    _chown_tree(base)
    _as_postgres([str(PG_BIN / "initdb"), "-D", str(data), "-U", OS_USER, "--encoding=UTF8",
                  "--locale=C.UTF-8", "--auth-local=trust", "--auth-host=scram-sha-256"])
    conf = SERVER_CONF.format(port=settings.postgres.port, socket_dir=_socket_dir(settings))
    (data / "postgresql.auto.conf").write_text(conf)
    (data / "pg_hba.conf").write_text(HBA_CONF)
    _chown_tree(base)


def postgres_running(settings: StackSettings) -> bool:
    if not (data_dir(settings) / "PG_VERSION").exists():
        return False
    return _as_postgres([str(PG_BIN / "pg_ctl"), "status", "-D", str(data_dir(settings))], check=False).returncode == 0


def postgres_healthy(settings: StackSettings) -> bool:
    """True when the application role can connect and run a query."""
    if not port_open(settings.postgres.host, settings.postgres.port):
        return False
    try:
        with psycopg.connect(settings.postgres.dsn(), connect_timeout=2) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


def start_postgres(settings: StackSettings, timeout: float = 60.0) -> None:
    """Create (first time) and start the cluster, then make sure the role and database exist."""
    if not PG_BIN.joinpath("postgres").exists():
        raise StackError(f"PostgreSQL 15 server binaries not found in {PG_BIN}: apt-get install postgresql-15")
    if not (data_dir(settings) / "PG_VERSION").exists():
        _init_cluster(settings)
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    log = _log_file(settings)
    if not log.exists():
        log.touch()
    shutil.chown(log, OS_USER)
    _reachable(log)
    if not postgres_running(settings):
        _as_postgres([str(PG_BIN / "pg_ctl"), "start", "-D", str(data_dir(settings)), "-l", str(log),
                      "-w", "-t", str(int(timeout))])
    wait_until(lambda: port_open(settings.postgres.host, settings.postgres.port), timeout, "PostgreSQL", log)
    _ensure_role_and_database(settings)


def _superuser_conn(settings: StackSettings, dbname: str = "postgres") -> psycopg.Connection[tuple[object, ...]]:
    # Local socket + trust, as OS user postgres's role: only reachable from this machine.
    return psycopg.connect(host=str(_socket_dir(settings)), port=settings.postgres.port, user=OS_USER,
                           dbname=dbname, autocommit=True)


def _ensure_role_and_database(settings: StackSettings) -> None:
    pg = settings.postgres
    with _superuser_conn(settings) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (pg.user,)).fetchone()
        verb = "ALTER" if exists else "CREATE"
        conn.execute(sql.SQL(verb + " ROLE {} WITH LOGIN REPLICATION PASSWORD {}").format(
            sql.Identifier(pg.user), sql.Literal(pg.password.get_secret_value())))
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (pg.database,)).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(pg.database), sql.Identifier(pg.user)))


def apply_schema(settings: StackSettings) -> None:
    """Create the seven modules' schemas and tables (idempotent: CREATE ... IF NOT EXISTS)."""
    with psycopg.connect(settings.postgres.dsn(), autocommit=False) as conn:
        conn.execute(SCHEMA_SQL.read_text())  # trusted DDL shipped with the code
        conn.commit()


def stop_postgres(settings: StackSettings, timeout: float = 60.0) -> None:
    """Fast shutdown (rolls back open transactions, checkpoints); harmless when not running."""
    if postgres_running(settings):
        _as_postgres([str(PG_BIN / "pg_ctl"), "stop", "-D", str(data_dir(settings)), "-m", "fast",
                      "-w", "-t", str(int(timeout))])


def kill_postgres(settings: StackSettings) -> None:
    """Immediate shutdown (crash-like: recovery on next start), for restart tests."""
    if postgres_running(settings):
        _as_postgres([str(PG_BIN / "pg_ctl"), "stop", "-D", str(data_dir(settings)), "-m", "immediate", "-w"])
