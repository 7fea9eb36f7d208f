"""The supervisor: its restart policy (pure, on a fake monotonic clock) and its loop against tiny real processes."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from infra.clock import FixedClock
from infra.process import ManagedProcess, pid_alive
from infra.services import worker_process
from infra.settings import StackSettings
from infra.status import write_status
from infra.supervisor import (
    RestartPolicy,
    Supervised,
    Supervisor,
    last_line,
    supervised,
    supervisor_process,
    supervisor_summary,
)

SLEEPER = [sys.executable, "-c", "print('sleeping', flush=True); import time; time.sleep(60)"]
CRASHER = [sys.executable, "-c", "print('boom: bad config', flush=True); raise SystemExit(3)"]
CLOCK_AT = datetime(2026, 1, 15, 2, 0, tzinfo=UTC)


# ---------------------------------------------------------------- the policy


def test_the_backoff_doubles_from_one_second_up_to_the_maximum() -> None:
    policy = RestartPolicy(max_restarts=100, max_backoff_seconds=30)
    delays = []
    for now in range(8):
        delays.append(policy.next_delay(now))
        policy.record_restart(now)
    assert delays == [1, 2, 4, 8, 16, 30, 30, 30]


def test_a_restart_waits_its_delay_after_the_process_was_last_seen_running() -> None:
    policy = RestartPolicy()
    policy.record_running(10.0)
    policy.record_exit(10.8)
    assert not policy.restart_due(10.9) and policy.restart_due(11.0)
    policy.record_restart(11.0)
    policy.record_exit(11.5)
    policy.record_exit(12.5)  # the same exit seen again: the delay still counts from 11.0
    assert not policy.restart_due(12.9) and policy.restart_due(13.0)
    policy.record_running(14.0)  # someone else started it: no exit pending
    assert not policy.restart_due(100.0)


def test_the_limit_holds_within_the_window_and_old_restarts_are_forgotten() -> None:
    policy = RestartPolicy(max_restarts=5, window_seconds=600)
    for now in (0, 100, 200, 300, 400):
        assert policy.may_restart(now)
        policy.record_restart(now)
    assert not policy.may_restart(401) and policy.restarts_in_window(599) == 5
    assert policy.may_restart(600) and policy.restarts_in_window(600) == 4  # the one at 0 slid out
    assert policy.next_delay(650) == 16
    assert policy.restarts_in_window(1001) == 0 and policy.next_delay(1001) == 1


# ---------------------------------------------------------------- the loop, against real processes


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[list[ManagedProcess]]:
    """ManagedProcesses of the test (in `tmp_path`); every one is stopped afterwards."""
    made: list[ManagedProcess] = []
    yield made
    for process in made:
        process.stop()


def managed(made: list[ManagedProcess], tmp_path: Path, name: str, argv: list[str]) -> ManagedProcess:
    process = ManagedProcess(name, argv, tmp_path, stop_timeout=2)
    made.append(process)
    return process


def gone(process: ManagedProcess, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while process.running():
        assert time.monotonic() < deadline, f"{process.name} still runs"
        time.sleep(0.02)


def said(process: ManagedProcess, times: int, timeout: float = 10.0) -> None:
    """Wait until the sleeper's log holds its line `times` times (it started up, so its log has a last line)."""
    deadline = time.monotonic() + timeout
    while not process.log_file.exists() or process.log_file.read_text().count("sleeping") < times:
        assert time.monotonic() < deadline, f"{process.name} said nothing"
        time.sleep(0.02)


def test_a_killed_process_is_started_again_after_its_backoff(
        tmp_path: Path, processes: list[ManagedProcess], caplog: pytest.LogCaptureFixture) -> None:
    sleeper = managed(processes, tmp_path, "sleeper", SLEEPER)
    first = sleeper.start()
    entry = Supervised(sleeper, RestartPolicy())
    supervisor = Supervisor([entry], tmp_path / "supervisor.json", clock=FixedClock(CLOCK_AT))
    supervisor.check_once(0.0)
    assert entry.running and entry.restarts == 0

    said(sleeper, 1)
    os.kill(first, signal.SIGKILL)
    gone(sleeper)
    with caplog.at_level(logging.WARNING, logger="infra.supervisor"):
        supervisor.check_once(1.0)
    second = sleeper.pid()
    assert second is not None and second != first and entry.restarts == 1
    assert entry.last_exit_code == -signal.SIGKILL  # the test process started it: its exit code is known
    assert "restarted sleeper" in caplog.text and "signal 9" in caplog.text and "sleeping" in caplog.text

    sleeper.kill()  # the pid file goes too: still expected to run
    supervisor.check_once(1.5)
    supervisor.check_once(2.9)
    assert sleeper.pid() is None  # the second restart waits 2 s after the first
    supervisor.check_once(3.0)
    assert sleeper.pid() not in (None, second) and entry.restarts == 2

    supervisor.write_status()
    status = orjson.loads((tmp_path / "supervisor.json").read_bytes())
    assert status["pid"] == os.getpid()
    assert status["processes"]["sleeper"] == {
        "running": True, "pid": sleeper.pid(), "restarts": 2, "last_restart_at": CLOCK_AT.isoformat(),
        "gave_up": False, "last_exit_code": None, "last_exit_line": "sleeping"}


def test_a_process_that_keeps_dying_is_given_up_after_the_limit(
        tmp_path: Path, processes: list[ManagedProcess], caplog: pytest.LogCaptureFixture) -> None:
    crasher = managed(processes, tmp_path, "crasher", CRASHER)
    crasher.start()
    entry = Supervised(crasher, RestartPolicy(max_restarts=5, window_seconds=600))
    supervisor = Supervisor([entry], tmp_path / "supervisor.json")
    starts_at = []
    with caplog.at_level(logging.WARNING, logger="infra.supervisor"):
        for now in range(60):
            gone(crasher)
            before = entry.restarts
            supervisor.check_once(float(now))
            if entry.restarts > before:
                starts_at.append(now)
    assert starts_at == [1, 3, 7, 15, 31]  # 1 s, then 2, 4, 8, 16 s after each restart
    assert entry.gave_up and entry.restarts == 5 and not entry.running
    assert entry.last_exit_code == 3 and entry.last_exit_line == "boom: bad config"
    assert "giving up on it" in caplog.text and "exit code 3" in caplog.text
    assert any(r.levelno == logging.ERROR for r in caplog.records)
    supervisor.check_once(10_000.0)  # the window has passed, but it gave up: no more starts
    assert crasher.pid() is None and entry.restarts == 5

    supervisor.write_status()
    status = orjson.loads((tmp_path / "supervisor.json").read_bytes())["processes"]["crasher"]
    assert status["gave_up"] and not status["running"] and status["restarts"] == 5
    assert status["last_exit_line"] == "boom: bad config"


def test_a_process_never_started_is_not_started_by_the_supervisor(
        tmp_path: Path, processes: list[ManagedProcess]) -> None:
    never = managed(processes, tmp_path, "never", SLEEPER)
    supervisor = Supervisor([Supervised(never, RestartPolicy())], tmp_path / "supervisor.json")
    for now in range(5):
        supervisor.check_once(float(now))
    assert never.pid() is None and not never.pid_file.exists()


def test_two_starters_at_once_start_one_process(tmp_path: Path, processes: list[ManagedProcess]) -> None:
    # The supervisor and `make up` (or a test's `start_worker`) may start the same process at the same moment.
    sleeper = managed(processes, tmp_path, "sleeper", SLEEPER)
    with ThreadPoolExecutor(4) as pool:
        pids = set(pool.map(lambda _: ManagedProcess("sleeper", SLEEPER, tmp_path).start(), range(4)))
    assert pids == {sleeper.pid()}


# ---------------------------------------------------------------- wiring into the stack


def test_it_supervises_the_projects_processes_and_clears_the_workers_status_before_a_start(tmp_path: Path) -> None:
    settings = StackSettings(state_dir=tmp_path)
    entries = supervised(settings, RestartPolicy)
    assert [e.process.name for e in entries] == ["worker", "api", "bank-landing", "bank-import"]
    assert entries[0].process.argv == worker_process(settings).argv
    write_status(settings.worker_status_file, {"pid": os.getpid()})
    entries[0].before_start()
    assert not settings.worker_status_file.exists()
    argv = supervisor_process(settings).argv
    assert argv[1:3] == ["-m", "infra.supervisor"] and argv[argv.index("--max-restarts") + 1] == "5"


def test_the_status_line_names_restarts_and_give_ups_and_survives_no_supervisor(tmp_path: Path) -> None:
    settings = StackSettings(state_dir=tmp_path)
    assert supervisor_summary(settings).startswith("not running")
    write_status(settings.supervisor_status_file, {"pid": os.getpid(), "processes": {
        "worker": {"running": True, "restarts": 2, "gave_up": False, "last_exit_line": None},
        "api": {"running": False, "restarts": 5, "gave_up": True, "last_exit_line": "port taken"},
        "bank-import": {"running": True, "restarts": 0, "gave_up": False, "last_exit_line": None}}})
    line = supervisor_summary(settings)
    assert "watching worker, api, bank-import" in line and "restarted worker 2×" in line
    assert "GAVE UP on api (last: port taken)" in line and "bank-import 0" not in line


def test_last_line_reads_the_tail_of_a_log(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    assert last_line(log) is None
    log.write_text("x" * 10_000 + "\nfirst\nTraceback: the real reason\n\n")
    assert last_line(log) == "Traceback: the real reason"


def test_the_supervisor_process_writes_its_status_and_exits_0_on_sigterm(tmp_path: Path) -> None:
    settings = StackSettings(state_dir=tmp_path)
    process = supervisor_process(settings)
    with subprocess.Popen(process.argv, env={**os.environ, **process.env}, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, start_new_session=True) as child:
        try:
            deadline = time.monotonic() + 30
            while not settings.supervisor_status_file.exists():
                assert time.monotonic() < deadline and child.poll() is None, "no status written"
                time.sleep(0.05)
            status = orjson.loads(settings.supervisor_status_file.read_bytes())
            assert status["pid"] == child.pid and set(status["processes"]) == {
                "worker", "api", "bank-landing", "bank-import"}
            child.send_signal(signal.SIGTERM)
            output, _ = child.communicate(timeout=10)
        finally:
            if child.poll() is None:
                child.kill()
    assert child.returncode == 0, output.decode()
    assert b"stopped by SIGTERM" in output and not pid_alive(child.pid)
