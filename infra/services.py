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

import httpx

from infra.process import ManagedProcess, StackError, wait_until
from infra.settings import StackSettings, settings_env
from infra.status import read_status
from infra.tls import ensure_local_tls


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
    status, why = read_status(settings.worker_status_file, settings.api.worker_stale_seconds)
    if status is None:
        return False, why
    return True, (f"pid {status['pid']}, {status['batches']} batches, {status['events_applied']} events applied, "
                  f"{status['dead_lettered']} dead-lettered")


def bank_importer_process(settings: StackSettings) -> ManagedProcess:
    return ManagedProcess("bank-import", [sys.executable, "-m", "connectors.bank"], settings.state_dir,
                          env=_env(settings), stop_timeout=30)


def bank_landing_process(settings: StackSettings) -> ManagedProcess:
    return ManagedProcess("bank-landing", [sys.executable, "-m", "agents.bank_landing"], settings.state_dir,
                          env=_env(settings), stop_timeout=30)


def bank_importer_healthy(settings: StackSettings) -> bool:
    return read_status(settings.bank_importer_status_file, settings.api.worker_stale_seconds)[0] is not None


def bank_landing_healthy(settings: StackSettings) -> bool:
    return read_status(settings.bank_landing_status_file, settings.api.worker_stale_seconds)[0] is not None


def start_bank_services(settings: StackSettings, timeout: float = 120.0) -> None:
    """The landing agent first (so it is subscribed when the importer's catch-up pull publishes), then the
    importer; returns once both write a fresh status."""
    for process, healthy in ((bank_landing_process(settings), bank_landing_healthy),
                             (bank_importer_process(settings), bank_importer_healthy)):
        if not process.running():
            process.start()
        wait_until(lambda p=process, h=healthy: h(settings) or not p.running(),  # type: ignore[misc]
                   timeout, process.name, process.log_file)
        if not healthy(settings):
            raise StackError(f"{process.name} exited during start; see {process.log_file}")


def stop_bank_services(settings: StackSettings) -> None:
    bank_importer_process(settings).stop()
    bank_landing_process(settings).stop()


def worker_healthy(settings: StackSettings) -> bool:
    return worker_status(settings)[0]


def api_healthy(settings: StackSettings) -> bool:
    if settings.api.tls and not settings.api_tls_files().ca_certificate.exists():
        return False  # never started here: no local CA yet
    try:
        response = httpx.get(settings.api_url("/health/live"), timeout=2, verify=settings.api_verify())
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
    if settings.api.tls and settings.api.certificate is None:
        ensure_local_tls(settings.state_dir / "tls")
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
