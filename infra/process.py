"""Start, watch and stop the stack's background processes, each with a pid file and a log file.

Contract: a `ManagedProcess` is idempotent. `start()` does nothing when its pid file names a live process
(checked under a file lock: two processes starting it at once, e.g. the supervisor and `make up`, start one);
`stop()` sends SIGTERM, waits up to `stop_timeout` seconds, then SIGKILLs, and removes the pid file.
Processes are started in their own session so Ctrl-C on `make run` reaches them only through `stop()`,
which lets each one shut down cleanly (Kafka Connect commits its offsets on SIGTERM).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path


class StackError(RuntimeError):
    """A component could not be installed, started or reached; the message says which and why."""


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (the OS picks it), for servers tests and tools start."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(check: Callable[[], bool], timeout: float, what: str, log: Path | None = None) -> None:
    """Poll `check` until it is true; raise StackError naming `what` (and the log's tail) on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.25)
    tail = ""
    if log is not None and log.exists():
        lines = log.read_text(errors="replace").splitlines()[-30:]
        tail = f"\n--- last lines of {log} ---\n" + "\n".join(lines)
    raise StackError(f"{what} did not become ready within {timeout:.0f}s{tail}")


# Popen objects of the background processes we started: kept so that Python does not warn about (or
# reap) a child that is meant to outlive the call that started it.
_STARTED: list[subprocess.Popen[bytes]] = []


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); treat it as gone.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return False


@dataclass
class ManagedProcess:
    """One background process of the stack."""

    name: str
    argv: Sequence[str]
    run_dir: Path
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    stop_timeout: float = 30.0
    user: str | None = None  # run as this OS user (PostgreSQL refuses root)

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "run" / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.run_dir / "logs" / f"{self.name}.log"

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if pid_alive(pid) else None

    def running(self) -> bool:
        return self.pid() is not None

    @property
    def lock_file(self) -> Path:
        return self.run_dir / "run" / f"{self.name}.lock"

    def start(self) -> int:
        """Start the process unless it already runs; return its pid. Safe when two processes (the supervisor
        and `make up`, or a test) start it at once: the check and the start happen under a file lock."""
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.lock_file, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes; the child does not inherit it
            existing = self.pid()
            if existing is not None:
                return existing
            argv = list(self.argv)
            if self.user is not None:
                argv = ["runuser", "-u", self.user, "--", *argv]
            env = {**os.environ, **self.env}
            with open(self.log_file, "ab") as log:
                proc = subprocess.Popen(
                    argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    cwd=self.cwd, env=env, start_new_session=True,
                )
            _STARTED.append(proc)
            self.pid_file.write_text(str(proc.pid))
            return proc.pid

    def stop(self) -> None:
        """SIGTERM, wait, SIGKILL if needed; always leaves no pid file behind."""
        pid = self.pid()
        if pid is not None:
            self._signal_group(pid, signal.SIGTERM)
            deadline = time.monotonic() + self.stop_timeout
            while time.monotonic() < deadline and pid_alive(pid):
                _reap(pid)
                time.sleep(0.2)
            if pid_alive(pid):
                self._signal_group(pid, signal.SIGKILL)
                time.sleep(0.2)
            _reap(pid)
        self.pid_file.unlink(missing_ok=True)

    def kill(self) -> None:
        """SIGKILL at once (crash tests): no clean shutdown."""
        pid = self.pid()
        if pid is not None:
            self._signal_group(pid, signal.SIGKILL)
            for _ in range(50):
                _reap(pid)
                if not pid_alive(pid):
                    break
                time.sleep(0.1)
        self.pid_file.unlink(missing_ok=True)

    @staticmethod
    def _signal_group(pid: int, sig: signal.Signals) -> None:
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            pass
        except PermissionError:
            os.kill(pid, sig)


def _reap(pid: int) -> None:
    """Collect the exit status if the process is our child, so it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
