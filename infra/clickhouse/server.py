"""Run a ClickHouse server (HTTP + native TCP) from the chdb-core wheel, in the foreground.

    python -m infra.clickhouse.server --data DIR --http-port P --tcp-port Q [--users-config FILE] [--query-log-days N]

chdb-core 26.9 carries the full ClickHouse engine; its module function `chdb._chdb.query` runs a
clickhouse-local that honours a `config.xml` in the current directory and can open listeners. We start
the listeners, then keep one blocking query running: the server lives exactly as long as that query.
`KILL QUERY` of the blocking query ends it cleanly (SIGTERM ends it too); the data in DIR survives.
This entry point is undocumented, hence
chdb-core is pinned to 26.9.0 and the runner checks `/ping` before calling the server ready.
Binds 127.0.0.1 only, because the `default` user must stay passwordless in this mode.

`--users-config FILE`: the users, profiles and quotas (infra/clickhouse/access.py renders it); it is read at
start only, so the server copies it to `run/users.xml` and serves exactly that copy (a changed FILE takes
effect at the next start). Without it the engine's built-in `default` user is the only one.
`--query-log-days N`: keep `system.query_log` (every user's queries) for N days; 0 turns it off.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

CONFIG_XML = """<clickhouse>
    <listen_host>127.0.0.1</listen_host>
    <http_port>{http_port}</http_port>
    <tcp_port>{tcp_port}</tcp_port>
    <logger><level>warning</level><console>1</console></logger>
    <max_server_memory_usage_to_ram_ratio>0.5</max_server_memory_usage_to_ram_ratio>{extra}
</clickhouse>
"""
USERS_CONFIG_XML = "\n    <users_config>{path}</users_config>"
QUERY_LOG_XML = """
    <query_log>
        <database>system</database>
        <table>query_log</table>
        <partition_by>toYYYYMM(event_date)</partition_by>
        <ttl>event_date + INTERVAL {days} DAY DELETE</ttl>
        <flush_interval_milliseconds>2000</flush_interval_milliseconds>
    </query_log>"""
LOADED_USERS_FILE = "users.xml"

# Roughly three years of one-row blocks, each sleeping a second: "until stopped".
BLOCKING_MARKER = "sleepEachRow(1) FROM numbers(100000000)"
BLOCKING_QUERY = (
    "SYSTEM START LISTEN TCP; SYSTEM START LISTEN HTTP; "
    "SELECT sleepEachRow(1) FROM numbers(100000000) "
    "SETTINGS max_block_size = 1, function_sleep_max_microseconds_per_block = 0"
)


def config_xml(http_port: int, tcp_port: int, users_config: Path | None = None, query_log_days: int = 0) -> str:
    """The server's config.xml: listeners on 127.0.0.1, optionally a users file and the query log."""
    extra = USERS_CONFIG_XML.format(path=users_config) if users_config is not None else ""
    if query_log_days > 0:
        extra += QUERY_LOG_XML.format(days=query_log_days)
    return CONFIG_XML.format(http_port=http_port, tcp_port=tcp_port, extra=extra)


def serve(data: Path, http_port: int, tcp_port: int, users_config: Path | None = None,
          query_log_days: int = 0) -> None:
    """Serve until SIGTERM/SIGINT. Imports chdb first: it must load before the working directory changes."""
    import chdb._chdb as engine

    run_dir = data.parent / "run"
    run_dir.mkdir(parents=True, exist_ok=True)
    data.mkdir(parents=True, exist_ok=True)
    loaded = run_dir / LOADED_USERS_FILE
    if users_config is not None:
        loaded.write_text(users_config.read_text())
        loaded.chmod(0o600)
    else:
        loaded.unlink(missing_ok=True)
    (run_dir / "config.xml").write_text(
        config_xml(http_port, tcp_port, loaded if users_config is not None else None, query_log_days))
    os.chdir(run_dir)
    # Returns when the blocking query is killed (KILL QUERY: a clean shutdown of the engine). SIGTERM
    # also ends the process at once; MergeTree parts are written atomically, so data stays consistent.
    engine.query(BLOCKING_QUERY, "TabSeparated", path=str(data))  # type: ignore[attr-defined]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="ClickHouse server from chdb-core")
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--tcp-port", type=int, required=True)
    parser.add_argument("--users-config", type=Path, default=None)
    parser.add_argument("--query-log-days", type=int, default=0)
    args = parser.parse_args(argv)
    users = args.users_config.resolve() if args.users_config is not None else None
    serve(args.data.resolve(), args.http_port, args.tcp_port, users, args.query_log_days)
    return 0


if __name__ == "__main__":
    sys.exit(main())
