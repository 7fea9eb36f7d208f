"""Resident memory of each stack component, from its pid file (children included)."""

from __future__ import annotations

from pathlib import Path

import psutil

from infra.settings import StackSettings


def _tree_rss(pid: int) -> int:
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total


def _pid_from(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def component_pids(settings: StackSettings) -> dict[str, int]:
    """The main pid of every running component (PostgreSQL's from its postmaster.pid)."""
    pids: dict[str, int] = {}
    candidates = {
        "postgres": settings.state_dir / "postgres" / "data" / "postmaster.pid",
        "kafka": settings.state_dir / "run" / "kafka.pid",
        "connect": settings.state_dir / "run" / "connect.pid",
        "clickhouse": settings.state_dir / "run" / "clickhouse.pid",
        "worker": settings.state_dir / "run" / "worker.pid",
        "api": settings.state_dir / "run" / "api.pid",
    }
    for name, path in candidates.items():
        pid = _pid_from(path)
        if pid is not None and psutil.pid_exists(pid):
            pids[name] = pid
    return pids


def component_rss_mb(settings: StackSettings) -> dict[str, float]:
    """RSS in MiB of each running component including its child processes."""
    return {name: round(_tree_rss(pid) / 2**20, 1) for name, pid in component_pids(settings).items()}
