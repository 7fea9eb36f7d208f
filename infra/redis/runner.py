"""Run a local Redis (Debian's `redis-server`) as one of the stack's background processes.

Contract:
- `start_redis(host, port, state_dir)` is idempotent: it starts `redis-server` as a `ManagedProcess` named
  "redis" (pid file `state_dir/run/redis.pid`, log `state_dir/logs/redis.log`, data in `state_dir/redis`)
  unless it already runs, and returns once `redis_healthy` answers; `StackError` (with the log's tail) when
  the binary is missing, the port is taken by something else, or the server exits during start.
- The server binds `host` only, keeps no snapshots and no append-only file (rate-limit windows and lockouts
  are short-lived: losing them on a restart only forgets recent counts), protected mode on.
- `redis_healthy` is true when host:port answers PING with PONG. `stop_redis` sends SIGTERM, SIGKILL after
  a timeout; harmless when it does not run.
"""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

from infra.process import ManagedProcess, StackError, port_open, wait_until

PROCESS_NAME = "redis"


def redis_process(host: str, port: int, state_dir: Path, binary: str = "redis-server") -> ManagedProcess:
    data = state_dir / "redis"
    argv = [binary, "--bind", host, "--port", str(port), "--save", "", "--appendonly", "no", "--dir", str(data),
            "--protected-mode", "yes", "--daemonize", "no", "--logfile", ""]
    return ManagedProcess(PROCESS_NAME, argv, state_dir, stop_timeout=10)


def redis_healthy(host: str, port: int, timeout: float = 1.0) -> bool:
    """True when host:port answers an inline PING with +PONG."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def start_redis(host: str, port: int, state_dir: Path, timeout: float = 20.0) -> None:
    """Start the local Redis unless it runs; return once it answers (see the module contract)."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise StackError("redis-server is not installed: apt-get install redis-server (make system-deps)")
    process = redis_process(host, port, state_dir, binary)
    (state_dir / "redis").mkdir(parents=True, exist_ok=True)
    if not process.running():
        if port_open(host, port):
            raise StackError(f"cannot start Redis: {host}:{port} is already taken by another process")
        process.start()
    wait_until(lambda: redis_healthy(host, port) or not process.running(), timeout, "Redis", process.log_file)
    if not process.running():
        tail = process.log_file.read_text(errors="replace").splitlines()[-20:] if process.log_file.exists() else []
        raise StackError(f"Redis exited during start; see {process.log_file}\n" + "\n".join(tail))


def stop_redis(state_dir: Path) -> None:
    """Stop the Redis started with this `state_dir`."""
    ManagedProcess(PROCESS_NAME, [], state_dir, stop_timeout=10).stop()
