"""The project's own long-running processes: the streaming worker and the API.

Contract: `start_services` starts whichever of them is not running (idempotent), with the stack's settings
in their environment and a shared prometheus multiprocess directory (emptied when no service runs, so
counters of a previous run do not linger); it returns once the worker has written a fresh status and the
API answers. `stop_services` stops both (API first). `worker_process` is exposed for crash tests.
"""

from __future__ import annotations

import os
import shutil
import sys
from datetime import UTC, datetime

import httpx
import orjson

from infra.process import ManagedProcess, StackError, pid_alive, wait_until
from infra.settings import StackSettings, settings_env


def _env(settings: StackSettings) -> dict[str, str]:
    return {**settings_env(settings), "PROMETHEUS_MULTIPROC_DIR": str(settings.metrics_dir)}


def worker_process(settings: StackSettings) -> ManagedProcess:
    return ManagedProcess("worker", [sys.executable, "-m", "agents.worker"], settings.state_dir, env=_env(settings),
                          stop_timeout=30)


def api_process(settings: StackSettings) -> ManagedProcess:
    return ManagedProcess("api", [sys.executable, "-m", "api"], settings.state_dir, env=_env(settings),
                          stop_timeout=10)


def worker_status(settings: StackSettings) -> tuple[bool, str]:
    """(up, why): up when the worker's status file names a live process that ticked within
    `api.worker_stale_seconds`; the API's /health and the stack's health check both judge by this."""
    try:
        status = orjson.loads(settings.worker_status_file.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return False, "no status written (worker not started?)"
    age = (datetime.now(UTC) - datetime.fromisoformat(status["last_tick_at"])).total_seconds()
    if not pid_alive(int(status["pid"])):
        return False, f"process {status['pid']} is gone"
    if age > settings.api.worker_stale_seconds:
        return False, f"no progress for {age:.0f}s"
    return True, (f"pid {status['pid']}, {status['batches']} batches, {status['events_applied']} events applied, "
                  f"{status['dead_lettered']} dead-lettered")


def worker_healthy(settings: StackSettings) -> bool:
    return worker_status(settings)[0]


def api_healthy(settings: StackSettings) -> bool:
    try:
        response = httpx.get(f"http://{settings.api.host}:{settings.api.port}/openapi.json", timeout=2)
    except httpx.HTTPError:
        return False
    return response.status_code == 200


def start_worker(settings: StackSettings, timeout: float = 180.0) -> None:
    process = worker_process(settings)
    if not process.running():
        settings.worker_status_file.unlink(missing_ok=True)
        process.start()
    wait_until(lambda: worker_healthy(settings) or not process.running(), timeout, "streaming worker",
               process.log_file)
    if not worker_healthy(settings):
        raise StackError(f"the streaming worker exited during start; see {process.log_file}")


def start_services(settings: StackSettings) -> None:
    worker, api = worker_process(settings), api_process(settings)
    if not worker.running() and not api.running():
        shutil.rmtree(settings.metrics_dir, ignore_errors=True)
    os.makedirs(settings.metrics_dir, exist_ok=True)
    start_worker(settings)
    if not api.running():
        api.start()
    wait_until(lambda: api_healthy(settings) or not api.running(), 60, "API", api.log_file)
    if not api_healthy(settings):
        raise StackError(f"the API exited during start; see {api.log_file}")


def stop_services(settings: StackSettings) -> None:
    api_process(settings).stop()
    worker_process(settings).stop()
