"""Restart the project's own processes (worker, API, bank import, bank landing) when they die.

    python -m infra.supervisor [--max-restarts 5] [--window-seconds 600] [--max-backoff-seconds 30]

Contract: `make up` starts this process last (a `ManagedProcess` named "supervisor", log
`<state_dir>/logs/supervisor.log`) and `make down` stops it first, so it never restarts what `down` stops.
Once a second it checks every supervised process: one it has seen running (or whose pid file names a dead
process) that is gone is started again exactly as `make up` starts it (the worker's status file removed
first), without waiting for it to become healthy. Restarts of one process wait 1 s, 2 s, 4 s … (at most
`max_backoff_seconds`) after it was last seen running; the exit that would be restart number
`max_restarts + 1` within `window_seconds` makes it give up on that process (logged at ERROR, `gave_up` in
its status) until something else (`make up`) starts it again. Every restart is logged with the exit code if
known (only its own children tell) and the last line of the process's log. It writes
`settings.supervisor_status_file` once a second; on SIGTERM or SIGINT it exits 0, leaving the processes running.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from infra.clock import Clock, SystemClock
from infra.process import ManagedProcess, StackError, wait_until
from infra.services import api_process, bank_importer_process, bank_landing_process, worker_process
from infra.settings import StackSettings, SupervisorSettings, get_settings, settings_env
from infra.status import read_status, write_status

log = logging.getLogger("infra.supervisor")

PROCESS_NAME = "supervisor"


@dataclass
class RestartPolicy:
    """When one process may be restarted: pure, driven by a monotonic `now` (seconds) the caller passes.

    The delay before a restart doubles with each restart still inside the window (`first_delay`, 2×, 4× …,
    at most `max_backoff_seconds`) and counts from when the process was last known to run; restarts older
    than `window_seconds` are forgotten (both for the delay and for the limit)."""

    max_restarts: int = 5
    window_seconds: float = 600.0
    max_backoff_seconds: float = 30.0
    first_delay: float = 1.0
    _restarts: deque[float] = field(default_factory=deque, init=False, repr=False)
    _last_running: float | None = field(default=None, init=False)
    _down_since: float | None = field(default=None, init=False)

    def record_running(self, now: float) -> None:
        """The process was seen running at `now`."""
        self._last_running, self._down_since = now, None

    def record_exit(self, now: float) -> None:
        """The process was found gone at `now` (a repeated call for the same exit changes nothing)."""
        if self._down_since is None:
            self._down_since = self._last_running if self._last_running is not None else now

    def record_restart(self, now: float) -> None:
        """The process was started again at `now`."""
        self._restarts.append(now)
        self.record_running(now)

    def restarts_in_window(self, now: float) -> int:
        while self._restarts and self._restarts[0] <= now - self.window_seconds:
            self._restarts.popleft()
        return len(self._restarts)

    def may_restart(self, now: float) -> bool:
        """False once `max_restarts` restarts happened within the window: give up."""
        return self.restarts_in_window(now) < self.max_restarts

    def next_delay(self, now: float) -> float:
        return float(min(self.first_delay * 2 ** self.restarts_in_window(now), self.max_backoff_seconds))

    def restart_due(self, now: float) -> bool:
        """An exit was recorded and its backoff has passed (the limit is checked by `may_restart`)."""
        return self._down_since is not None and now >= self._down_since + self.next_delay(now)

    def reset(self) -> None:
        self._restarts.clear()
        self._last_running = self._down_since = None


@dataclass
class Supervised:
    """One supervised process, how to prepare its start, and what the supervisor knows about it."""

    process: ManagedProcess
    policy: RestartPolicy
    before_start: Callable[[], None] = lambda: None
    pid: int | None = None  # the last pid seen running (kept after it died, to reap it)
    seen_running: bool = False
    running: bool = False
    down: bool = False  # an exit was noticed and no restart followed yet
    restarts: int = 0
    last_restart_at: datetime | None = None
    gave_up: bool = False
    last_exit_code: int | None = None
    last_exit_line: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"running": self.running, "pid": self.pid if self.running else None, "restarts": self.restarts,
                "last_restart_at": self.last_restart_at, "gave_up": self.gave_up,
                "last_exit_code": self.last_exit_code, "last_exit_line": self.last_exit_line}


class Supervisor:
    """Checks `entries` (`check_once`) and reports on them (`status`, written by `write_status`)."""

    def __init__(self, entries: Sequence[Supervised], status_file: Path, clock: Clock | None = None) -> None:
        self.entries = list(entries)
        self.status_file = status_file
        self.clock = clock or SystemClock()

    def check_once(self, now: float) -> None:
        """One pass at monotonic time `now`: note what runs, restart what is gone and due, give up past the
        limit. Never waits for a process to become healthy."""
        for entry in self.entries:
            self._check(entry, now)

    def _check(self, entry: Supervised, now: float) -> None:
        name = entry.process.name
        pid = entry.process.pid()
        entry.running = pid is not None
        if pid is not None:
            if entry.gave_up:
                log.info("%s runs again (pid %d, started by someone else): supervising it again", name, pid)
                entry.gave_up = False
                entry.policy.reset()
            if entry.pid is not None and entry.pid != pid:
                _reap(entry.pid)  # restarted by someone else: collect the old one if it was our child
            entry.pid, entry.seen_running, entry.down = pid, True, False
            entry.policy.record_running(now)
            return
        if entry.gave_up or not (entry.seen_running or entry.process.pid_file.exists()):
            return  # never seen running and never started: not ours to start
        if not entry.down:
            entry.down = True
            entry.last_exit_code = _reap(entry.pid)  # None unless we started it: only our children tell
            entry.last_exit_line = last_line(entry.process.log_file)
            entry.policy.record_exit(now)
            if not entry.policy.may_restart(now):
                entry.gave_up = True
                log.error("%s exited (%s; last log line: %s) after %d restarts within %.0f s: giving up on it",
                          name, _code(entry.last_exit_code), entry.last_exit_line, entry.policy.max_restarts,
                          entry.policy.window_seconds)
                return
            log.warning("%s exited (%s; last log line: %s): restart in %.0f s", name,
                        _code(entry.last_exit_code), entry.last_exit_line, entry.policy.next_delay(now))
        if entry.policy.restart_due(now):
            self._restart(entry, now)

    def _restart(self, entry: Supervised, now: float) -> None:
        name = entry.process.name
        entry.policy.record_restart(now)  # a start that fails counts too: it backs off and gives up the same way
        entry.restarts += 1
        entry.last_restart_at = self.clock.now()
        entry.seen_running, entry.down = True, False  # expected to run from now on: a failed start is an exit
        try:
            entry.before_start()
            entry.pid = entry.process.start()
        except OSError:
            log.exception("could not restart %s", name)
            return
        entry.running = True
        log.warning("restarted %s (pid %d; restart %d, %d within %.0f s) after it exited (%s; last log line: %s)",
                    name, entry.pid, entry.restarts, entry.policy.restarts_in_window(now),
                    entry.policy.window_seconds, _code(entry.last_exit_code), entry.last_exit_line)

    def status(self) -> dict[str, Any]:
        return {"pid": os.getpid(), "processes": {e.process.name: e.to_json() for e in self.entries}}

    def write_status(self) -> None:
        write_status(self.status_file, self.status())

    def run(self, should_stop: Callable[[], bool], interval: float = 1.0) -> None:
        """Check and write the status every `interval` seconds until `should_stop()`."""
        while not should_stop():
            self.check_once(time.monotonic())
            self.write_status()
            deadline = time.monotonic() + interval
            while not should_stop() and time.monotonic() < deadline:
                time.sleep(0.1)


def last_line(path: Path, tail_bytes: int = 4096) -> str | None:
    """The last non-empty line of a (log) file, or None when there is none."""
    try:
        with open(path, "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - tail_bytes))
            lines = [line.strip() for line in f.read().decode(errors="replace").splitlines()]
    except OSError:
        return None
    return next((line[:500] for line in reversed(lines) if line), None)


def _reap(pid: int | None) -> int | None:
    """The exit code of `pid` if it was our child (collecting it, so it does not stay a zombie), else None."""
    if pid is None:
        return None
    with contextlib.suppress(ChildProcessError):
        reaped, wait_status = os.waitpid(pid, os.WNOHANG)
        if reaped == pid:
            return os.waitstatus_to_exitcode(wait_status)
    return None


def _code(code: int | None) -> str:
    return "exit code unknown" if code is None else f"signal {-code}" if code < 0 else f"exit code {code}"


def _forget_status(settings: StackSettings, shard: int) -> Callable[[], None]:
    def forget() -> None:
        settings.worker_status_of(shard).unlink(missing_ok=True)
    return forget


def supervised(settings: StackSettings, policy: Callable[[], RestartPolicy]) -> list[Supervised]:
    """The project's processes, built by the same factories `make up` uses; the worker's stale status file
    is removed before it starts, as `start_worker` does."""
    workers = [Supervised(worker_process(settings, shard), policy(), before_start=_forget_status(settings, shard))
               for shard in range(settings.worker.shards)]
    return [*workers,
            Supervised(api_process(settings), policy()),
            Supervised(bank_landing_process(settings), policy()),
            Supervised(bank_importer_process(settings), policy())]


def supervisor_process(settings: StackSettings) -> ManagedProcess:
    limits = settings.supervisor
    argv = [sys.executable, "-m", "infra.supervisor", "--max-restarts", str(limits.max_restarts),
            "--window-seconds", str(limits.window_seconds), "--max-backoff-seconds", str(limits.max_backoff_seconds)]
    return ManagedProcess(PROCESS_NAME, argv, settings.state_dir, env=settings_env(settings), stop_timeout=10)


def supervisor_healthy(settings: StackSettings) -> bool:
    return read_status(settings.supervisor_status_file, settings.api.worker_stale_seconds)[0] is not None


def start_supervisor(settings: StackSettings, timeout: float = 30.0) -> None:
    """Start the supervisor unless it runs; return once it has written a fresh status (StackError if not)."""
    process = supervisor_process(settings)
    if not process.running():
        settings.supervisor_status_file.unlink(missing_ok=True)
        process.start()
    wait_until(lambda: supervisor_healthy(settings) or not process.running(), timeout, "supervisor", process.log_file)
    if not supervisor_healthy(settings):
        raise StackError(f"the supervisor exited during start; see {process.log_file}")


def stop_supervisor(settings: StackSettings) -> None:
    supervisor_process(settings).stop()


def supervisor_summary(settings: StackSettings) -> str:
    """One line for `make status`: what it restarted and what it gave up on (never raises)."""
    status, why = read_status(settings.supervisor_status_file, settings.api.worker_stale_seconds)
    where = f"log {supervisor_process(settings).log_file}"
    if status is None:
        return f"not running: {why}; `make up` starts it; {where}"
    processes: dict[str, dict[str, Any]] = status.get("processes", {})
    parts = [f"watching {', '.join(processes)}"]
    parts += [f"restarted {name} {p.get('restarts')}×" for name, p in processes.items() if p.get("restarts")]
    parts += [f"GAVE UP on {name} (last: {p.get('last_exit_line')})" for name, p in processes.items()
              if p.get("gave_up")]
    return "; ".join([*parts, where])


def main(argv: list[str] | None = None) -> int:
    defaults = SupervisorSettings()
    parser = argparse.ArgumentParser(prog="python -m infra.supervisor", description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-restarts", type=int, default=defaults.max_restarts)
    parser.add_argument("--window-seconds", type=float, default=defaults.window_seconds)
    parser.add_argument("--max-backoff-seconds", type=float, default=defaults.max_backoff_seconds)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = get_settings()
    supervisor = Supervisor(supervised(settings, lambda: RestartPolicy(
        max_restarts=args.max_restarts, window_seconds=args.window_seconds,
        max_backoff_seconds=args.max_backoff_seconds)), settings.supervisor_status_file)
    stopping: list[int] = []  # set by the handlers, read between passes: a pass is never cut short
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, _frame: stopping.append(signum))
    log.info("supervising %s (at most %d restarts within %.0f s each)",
             ", ".join(e.process.name for e in supervisor.entries), args.max_restarts, args.window_seconds)
    supervisor.run(lambda: bool(stopping))
    log.info("stopped by %s; the supervised processes keep running", signal.Signals(stopping[0]).name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
