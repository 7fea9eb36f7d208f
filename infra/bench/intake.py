"""What Faust's record delivery costs on its own: an agent that does nothing, reading every table topic from
the start, fed either per record (Faust's stream, batched with `take_events`) or one event per batch
(`streams.batches.deliver_in_batches`, what the worker uses). Same app settings as the worker.

    python -m infra.bench.intake records|batches COUNT      # prints one JSON line, settings from LG_*

A Faust worker owns its process (event loop, signals), so `measure` runs each mode in a child process.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import faust
from faust.types import StreamT

from infra.bench.cdc import table_topics
from infra.settings import StackSettings, get_settings
from infra.stack import child_env
from streams.app import create_app
from streams.batches import FetchBuffer, deliver_in_batches

MODES = ("records", "batches")


def measure(settings: StackSettings, mode: str, count: int, timeout: float = 900.0) -> dict[str, Any]:
    """Records/s of a do-nothing agent in `mode` over the first `count` records of the table topics."""
    cmd = [sys.executable, "-m", "infra.bench.intake", mode, str(count)]
    done = subprocess.run(cmd, env=child_env(settings), capture_output=True, text=True, timeout=timeout, check=False)
    # Faust's worker redirects stdout into its log (stderr), so the JSON line may arrive inside a log line.
    found = re.findall(r'\{"mode".*\}', done.stdout + done.stderr)
    if not found:
        raise RuntimeError(f"intake bench ({mode}) printed no result: {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(found[-1])
    return result


def _run(mode: str, count: int) -> None:
    settings = get_settings()
    app = create_app(settings, app_id=f"bench-intake-{mode}-{uuid.uuid4().hex[:8]}")
    topic = app.topic(*table_topics(settings), key_type=bytes, value_type=bytes, key_serializer="raw",
                      value_serializer="raw", acks=False)
    seen = {"records": 0, "batches": 0}
    started: list[float] = []

    def count_and_maybe_finish(n: int) -> None:
        if not started:
            started.append(time.perf_counter())
        seen["records"] += n
        seen["batches"] += 1
        if seen["records"] >= count:
            seconds = time.perf_counter() - started[0]
            print(json.dumps({"mode": mode, "records": seen["records"], "batches": seen["batches"],
                              "seconds": round(seconds, 2),
                              "events_per_second": round(seen["records"] / seconds)}), flush=True)
            os._exit(0)  # a Faust worker's orderly shutdown takes seconds and measures nothing

    async def per_batch(stream: StreamT[Any]) -> AsyncIterator[None]:
        buffer: FetchBuffer
        async for buffer in stream:
            if taken := buffer.take():
                count_and_maybe_finish(len(taken))
            yield None

    async def per_record(stream: StreamT[Any]) -> AsyncIterator[None]:
        assert isinstance(stream, faust.Stream)
        async for events in stream.take_events(settings.worker.batch_max, within=0.25):
            count_and_maybe_finish(len(events))
            yield None

    if mode == "batches":
        app.agent(deliver_in_batches(app, topic, limit=settings.worker.batch_max), name="count")(per_batch)
    else:
        app.agent(topic, name="count")(per_record)
    faust.Worker(app, loglevel="WARNING", quiet=True).execute_from_commandline()


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in MODES:
        sys.exit(f"usage: python -m infra.bench.intake {'|'.join(MODES)} COUNT")
    _run(sys.argv[1], int(sys.argv[2]))
