"""Waiting for the stream to agree with the truth, and running the simulator, for the streaming tests."""

from __future__ import annotations

import subprocess
import time

from infra.settings import StackSettings
from infra.stack import child_env, simulator_command
from infra.verify.compare import Difference, differences


def wait_until_verified(settings: StackSettings, timeout: float = 90.0) -> list[Difference]:
    """Differences left after waiting up to `timeout` for the stream to catch up (empty = all equal)."""
    deadline = time.monotonic() + timeout
    while True:
        diffs, _ = differences(settings)
        if not diffs or time.monotonic() > deadline:
            return diffs
        time.sleep(2)


def start_simulator(settings: StackSettings, rate: float, seconds: float, seed: int) -> subprocess.Popen[bytes]:
    """The live simulator writing a mixed workload (inserts, updates, deletes, cancellations, late payments)."""
    cmd = simulator_command("live", "--rate", str(rate), "--duration", str(seconds), "--seed", str(seed))
    return subprocess.Popen(cmd, env=child_env(settings), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
