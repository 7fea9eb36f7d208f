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
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import httpx

from infra.process import ManagedProcess, StackError, pid_alive, wait_until
from infra.settings import StackSettings, settings_env
from infra.status import load_status, read_status
from infra.tls import ensure_local_tls


def _env(settings: StackSettings) -> dict[str, str]:
    return {**settings_env(settings), "PROMETHEUS_MULTIPROC_DIR": str(settings.metrics_dir)}


def worker_process(settings: StackSettings, shard: int = 0) -> ManagedProcess:
    """The worker of `shard` (named `worker` when there is one shard, `worker-<i>` otherwise)."""
    name = "worker" if settings.worker.shards == 1 else f"worker-{shard}"
    env = {**_env(settings), "LG_WORKER__SHARD": str(shard)}
    return ManagedProcess(name, [sys.executable, "-m", "agents.worker"], settings.state_dir, env=env, stop_timeout=30)


def worker_processes(settings: StackSettings) -> list[ManagedProcess]:
    return [worker_process(settings, shard) for shard in range(settings.worker.shards)]


def stop_workers(settings: StackSettings) -> None:
    """Stop every streaming worker, of this shard count or any other (before a rebuild that changes it)."""
    for pid_file in sorted((settings.state_dir / "run").glob("worker*.pid")):
        ManagedProcess(pid_file.stem, [sys.executable, "-m", "agents.worker"], settings.state_dir,
                       stop_timeout=30).stop()


def api_process(settings: StackSettings) -> ManagedProcess:
    return ManagedProcess("api", [sys.executable, "-m", "api"], settings.state_dir, env=_env(settings),
                          stop_timeout=10)


WorkerState = Literal["up", "catching_up", "stalled", "failed", "down"]


@dataclass(frozen=True)
class WorkerHealth:
    """The worker judged by progress, not only by its heartbeat: `state`, a sentence, and the status read."""

    state: WorkerState
    detail: str
    status: dict[str, Any] | None

    @property
    def up(self) -> bool:
        """Serving (possibly behind): up or catching up."""
        return self.state in ("up", "catching_up")


def _age(value: str | None, now: datetime) -> float | None:
    return None if value is None else (now - datetime.fromisoformat(value)).total_seconds()


def judge_worker(status: dict[str, Any] | None, live: bool, now: datetime, stale_seconds: float,
                 stall_seconds: float) -> WorkerHealth:
    """The worker's state from its last status (`live`: its process still runs). Failed: it stopped on a
    permanent error; stalled: it has a backlog but wrote nothing for `stall_seconds` (or its writes have kept
    failing that long); catching up: a large backlog or the first pass to the end of the topics; up otherwise."""
    if status is None:
        return WorkerHealth("down", "no status written (not started?)", None)
    if status.get("failed"):
        failed = status["failed"]
        return WorkerHealth("failed", f"stopped at {failed['at']} on a permanent error: {failed['error']}", status)
    if not live:
        return WorkerHealth("down", f"process {status['pid']} is gone", status)
    tick_age = _age(status["last_tick_at"], now) or 0.0
    if tick_age > stale_seconds:
        return WorkerHealth("down", f"no status for {tick_age:.0f}s", status)
    backlog, eta = int(status.get("backlog", 0)), status.get("eta_seconds")
    failing = _age(status.get("failing_since"), now)
    if failing is not None and failing > stall_seconds:
        return WorkerHealth("stalled", f"writes failing for {failing:.0f}s: {status.get('last_failure', '')}"[:500],
                            status)
    quiet = _age(status.get("written_at") or str(status["started_at"]), now) or 0.0
    if backlog > 0 and quiet > stall_seconds:
        return WorkerHealth("stalled", f"{backlog:,} records behind and nothing written for {quiet:.0f}s", status)
    counts = (f"pid {status['pid']}, {status['batches']} batches, {status['events_applied']} events applied, "
              f"{status['dead_lettered']} dead-lettered")
    if status.get("recovering"):
        since = _age(str(status["started_at"]), now) or 0.0
        return WorkerHealth("catching_up", f"recovering its state from ClickHouse for {since:.0f}s (pid "
                                           f"{status['pid']}); nothing applied yet", status)
    if status.get("catching_up", False):
        when = "ETA unknown" if eta is None else f"ETA {eta:.0f}s"
        return WorkerHealth("catching_up", f"catching up: {backlog:,} records behind at "
                                           f"{status.get('rate', 0):,.0f}/s, {when}; {counts}", status)
    return WorkerHealth("up", counts, status)


_WORST_FIRST: tuple[WorkerState, ...] = ("failed", "stalled", "down", "catching_up", "up")


def worker_health(settings: StackSettings) -> WorkerHealth:
    """The workers' state now (with several shards, the worst shard's, named); the API's /health and
    /freshness and the stack's health check judge by this."""
    judged = []
    for shard in range(settings.worker.shards):
        status = load_status(settings.worker_status_of(shard))
        live = status is not None and pid_alive(int(status["pid"]))
        judged.append(judge_worker(status, live, datetime.now(UTC), settings.api.worker_stale_seconds,
                                   settings.worker.stall_seconds))
    if len(judged) == 1:
        return judged[0]
    worst = min(range(len(judged)), key=lambda i: _WORST_FIRST.index(judged[i].state))
    health = judged[worst]
    return WorkerHealth(health.state, f"{len(judged)} shards; shard {worst}: {health.detail}", health.status)


def worker_status(settings: StackSettings) -> tuple[bool, str]:
    """(up, why): up (or catching up) by `worker_health`."""
    health = worker_health(settings)
    return health.up, health.detail if health.state == "up" else f"{health.state}: {health.detail}"


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
    # Without a token the route refuses (every route does): a 401 over TLS is the process answering.
    return response.status_code in (200, 401)


def _recovering(health: WorkerHealth) -> bool:
    """A worker still recovers its state, and says so in a fresh status."""
    return health.up and bool((health.status or {}).get("recovering"))


def start_worker(settings: StackSettings, timeout: float = 180.0) -> None:
    """Start every shard's worker not running; return once all are up, past their recovery (StackError if
    one exits, or if one is neither up nor recovering after `timeout`: a recovery that reports itself is
    waited for however long it takes, minutes at a year of history)."""
    processes = worker_processes(settings)
    for shard, process in enumerate(processes):
        if not process.running():
            settings.worker_status_of(shard).unlink(missing_ok=True)
            process.start()

    def started() -> bool:
        health = worker_health(settings)
        return (health.up and not _recovering(health)) or not all(p.running() for p in processes)

    while True:
        try:
            wait_until(started, timeout, "streaming worker", processes[0].log_file)
            break
        except StackError:
            if not _recovering(worker_health(settings)):
                raise
    if not worker_healthy(settings):
        logs = ", ".join(str(p.log_file) for p in processes)
        raise StackError(f"a streaming worker exited during start ({worker_status(settings)[1]}); see {logs}")


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
    stop_workers(settings)
