"""Run a ClickHouse server (HTTP + native TCP) from the chdb-core wheel, in the foreground.

    python -m infra.clickhouse.server --data DIR --http-port P --tcp-port Q

chdb-core 26.9 carries the full ClickHouse engine; its module function `chdb._chdb.query` runs a
clickhouse-local that honours a `config.xml` in the current directory and can open listeners. We start
the listeners, then keep one blocking query running: the server lives exactly as long as that query.
`KILL QUERY` of the blocking query ends it cleanly (SIGTERM ends it too); the data in DIR survives.
This entry point is undocumented, hence
chdb-core is pinned to 26.9.0 and the runner checks `/ping` before calling the server ready.
Binds 127.0.0.1 only, because the `default` user must stay passwordless in this mode.
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
    <max_server_memory_usage_to_ram_ratio>0.5</max_server_memory_usage_to_ram_ratio>
</clickhouse>
"""

# Roughly three years of one-row blocks, each sleeping a second: "until stopped".
BLOCKING_MARKER = "sleepEachRow(1) FROM numbers(100000000)"
BLOCKING_QUERY = (
    "SYSTEM START LISTEN TCP; SYSTEM START LISTEN HTTP; "
    "SELECT sleepEachRow(1) FROM numbers(100000000) "
    "SETTINGS max_block_size = 1, function_sleep_max_microseconds_per_block = 0"
)


def serve(data: Path, http_port: int, tcp_port: int) -> None:
    """Serve until SIGTERM/SIGINT. Imports chdb first: it must load before the working directory changes."""
    import chdb._chdb as engine

    run_dir = data.parent / "run"
    run_dir.mkdir(parents=True, exist_ok=True)
    data.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.xml").write_text(CONFIG_XML.format(http_port=http_port, tcp_port=tcp_port))
    os.chdir(run_dir)
    # Returns when the blocking query is killed (KILL QUERY: a clean shutdown of the engine). SIGTERM
    # also ends the process at once; MergeTree parts are written atomically, so data stays consistent.
    engine.query(BLOCKING_QUERY, "TabSeparated", path=str(data))  # type: ignore[attr-defined]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="ClickHouse server from chdb-core")
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--tcp-port", type=int, required=True)
    args = parser.parse_args(argv)
    serve(args.data.resolve(), args.http_port, args.tcp_port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
