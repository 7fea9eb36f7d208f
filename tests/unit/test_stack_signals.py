"""`make run` stops the same way on Ctrl-C, SIGTERM and SIGHUP: the live simulator first, then the whole stack,
exit 0; a second signal during the stop does not cut it short. Each case runs in a small Python subprocess
with a dummy simulator (a sleeping child process) and a `stop_all` that writes a marker file."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.process import pid_alive

FOREGROUND = """
import pathlib, subprocess, sys, time
from infra.stack import run_foreground
work = pathlib.Path(sys.argv[1])

def start_live():
    live = subprocess.Popen(["sleep", "60"])
    (work / "live.pid").write_text(str(live.pid))
    return live

def stop_all():
    (work / "stopping").write_text("")
    time.sleep(float(sys.argv[2]))
    (work / "stopped").write_text("")

print("received", run_foreground(start_live, stop_all, live_timeout=5), flush=True)
"""

# `main(["run"])` with the stack's parts replaced: the exit code `make run` gives after a signal.
MAIN = """
import os, pathlib, sys
import infra.stack as stack
work = pathlib.Path(sys.argv[1])
stack.up = lambda settings, days: []
stack.status = stack.print_demo_users = stack.print_reports = lambda *args: True
stack.bi_logins = lambda settings: []
stack.down = lambda settings: (work / "stopped").write_text("")
live = "import os, pathlib, time; pathlib.Path(%r).write_text(str(os.getpid())); time.sleep(60)" % str(work / "live.pid")
stack.simulator_command = lambda *args: [sys.executable, "-c", live]
sys.exit(stack.main(["run", "--backfill-days", "0"]))
"""


def wait_for(path: Path, child: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not (path.exists() and (path.suffix != ".pid" or path.read_text().strip())):
        assert child.poll() is None, f"the script exited early: {child.communicate()[0].decode()}"
        assert time.monotonic() < deadline, f"no {path.name} after {timeout}s"
        time.sleep(0.02)


@pytest.fixture
def script(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Started scripts (and their dummy simulators) are killed afterwards if a test left them running."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for child in started:
        if child.poll() is None:
            child.kill()
            child.communicate()
    with contextlib.suppress(OSError, ValueError):
        os.kill(int((tmp_path / "live.pid").read_text()), signal.SIGKILL)


def launch(started: list[subprocess.Popen[bytes]], source: str, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "LG_STATE_DIR": args[0]}
    child = subprocess.Popen([sys.executable, "-c", source, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             env=env, start_new_session=True)
    started.append(child)
    return child


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=lambda s: s.name)
def test_a_signal_stops_the_simulator_then_the_stack(
        tmp_path: Path, script: list[subprocess.Popen[bytes]], sig: signal.Signals) -> None:
    child = launch(script, FOREGROUND, str(tmp_path), "0")
    wait_for(tmp_path / "live.pid", child)
    live_pid = int((tmp_path / "live.pid").read_text())
    child.send_signal(sig)
    output, _ = child.communicate(timeout=20)
    assert child.returncode == 0, output.decode()
    assert (tmp_path / "stopped").exists()
    assert not pid_alive(live_pid)
    assert f"received {int(sig)}" in output.decode()


def test_a_second_signal_does_not_cut_the_stop_short(tmp_path: Path, script: list[subprocess.Popen[bytes]]) -> None:
    child = launch(script, FOREGROUND, str(tmp_path), "1.5")
    wait_for(tmp_path / "live.pid", child)
    child.send_signal(signal.SIGTERM)
    wait_for(tmp_path / "stopping", child)
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        child.send_signal(sig)
    output, _ = child.communicate(timeout=20)
    assert child.returncode == 0, output.decode()
    assert (tmp_path / "stopped").exists() and f"received {int(signal.SIGTERM)}" in output.decode()


def test_make_run_exits_0_after_sigterm_having_taken_the_stack_down(
        tmp_path: Path, script: list[subprocess.Popen[bytes]]) -> None:
    child = launch(script, MAIN, str(tmp_path))
    wait_for(tmp_path / "live.pid", child)
    live_pid = int((tmp_path / "live.pid").read_text())
    child.send_signal(signal.SIGTERM)
    output, _ = child.communicate(timeout=20)
    assert child.returncode == 0, output.decode()
    assert (tmp_path / "stopped").exists() and not pid_alive(live_pid)
    assert "stopping the stack" in output.decode()
