"""The stack's side of several worker shards: where each keeps its files, the processes started and supervised,
health judged by the worst shard, and one lease per shard."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from agents.lease import LOCK_KEY, lock_key
from agents.shards import Shard
from agents.worker import consumer_group
from infra.services import worker_health, worker_process, worker_processes
from infra.settings import StackSettings, WorkerSettings
from infra.status import write_status
from infra.supervisor import RestartPolicy, supervised


def _settings(tmp_path: Path, shards: int) -> StackSettings:
    return StackSettings(state_dir=tmp_path, worker=WorkerSettings(shards=shards))


def test_one_shard_keeps_the_old_places_and_several_get_their_own(tmp_path: Path) -> None:
    one = _settings(tmp_path, 1)
    assert one.worker_status_file == tmp_path / "worker" / "status.json"
    assert one.worker_state_dir == tmp_path / "worker" / "state"
    assert [p.name for p in worker_processes(one)] == ["worker"]
    three = _settings(tmp_path, 3)
    assert three.worker_dir(2) == tmp_path / "worker" / "shard-2"
    assert [p.name for p in worker_processes(three)] == ["worker-0", "worker-1", "worker-2"]
    assert worker_process(three, 2).env["LG_WORKER__SHARD"] == "2"
    names = [s.process.name for s in supervised(three, RestartPolicy)]
    assert names[:3] == ["worker-0", "worker-1", "worker-2"] and "api" in names


def test_a_shard_must_be_below_the_count() -> None:
    with pytest.raises(ValidationError, match="not below the shard count"):
        WorkerSettings(shards=2, shard=2)


def _status(pid: int, **fields: object) -> dict[str, object]:
    now = datetime.now(UTC)
    return {"pid": pid, "started_at": now, "batches": 3, "events_applied": 10, "dead_lettered": 0, "backlog": 0,
            "written_at": now, "failing_since": None, "failed": None, "catching_up": False, **fields}


def test_health_is_the_worst_shards_and_names_it(tmp_path: Path) -> None:
    settings = _settings(tmp_path, 3)
    for shard in range(3):
        write_status(settings.worker_dir(shard) / "status.json", _status(os.getpid()))
    assert worker_health(settings).state == "up"
    write_status(settings.worker_dir(1) / "status.json", _status(os.getpid(), catching_up=True, backlog=9_000))
    health = worker_health(settings)
    assert health.state == "catching_up" and health.detail.startswith("3 shards; shard 1: catching up")
    (settings.worker_dir(2) / "status.json").unlink()
    assert worker_health(settings).state == "down" and "shard 2" in worker_health(settings).detail


def test_each_shard_has_its_own_lease_and_consumer_group() -> None:
    assert lock_key(0) == LOCK_KEY and lock_key(3) == (3 << 32) | LOCK_KEY  # pg_locks: classid 3, objid LOCK_KEY
    assert consumer_group(Shard()) == "luckygas-analytics"
    assert {consumer_group(Shard(i, 3)) for i in range(3)} == {f"luckygas-analytics-shard-{i}" for i in range(3)}
