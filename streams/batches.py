"""Kafka records to one Faust agent in batches: one event per batch instead of one per record.

Faust's consumer delivers every record through its conductor and stream machinery (a flow-control wait,
an Event, a queue put, a task race per record, an ack): measured here, a Faust agent that does nothing
reads ~7,700 records/s that way and well over 100,000 records/s when records arrive in batches (README,
"Streaming core"). `deliver_in_batches` keeps everything else Faust's — group membership, rebalances,
the consumer thread, pausing, seeking — and replaces only the loop that hands fetched records on.

Contract:
- a task on the consumer's own thread keeps draining aiokafka into a `FetchBuffer` (bounded: it stops
  while `limit` records wait) and wakes the agent through a Faust channel whose events are that buffer;
  the agent calls `take()` and gets every record fetched so far, in partition order. A batch therefore
  holds what arrived while the previous one was processed: small while the agent keeps up, large while it
  catches up, and no record waits behind batches fetched before it (fetching ahead into a queue of
  batches cost ~3 batch times of latency);
- no fetched record is ever dropped, not even one fetched just before a rebalance moved the position:
  aiokafka has advanced past it, so dropping it could lose it for good. After a seek the agent may
  therefore receive records again; its consumer must treat replays as no-ops (ours: row versions);
- nothing is acked or committed on the records' behalf (declare the topic with `acks=False`): the agent
  keeps its own positions and commits them (see `agents/worker.py`);
- `deliver_in_batches` must be called before the app's consumer is created (before the worker starts).

Faust's per-record loop also skips records below the offset it last read in a partition; after a seek
backwards (resuming from a checkpoint older than what Faust had already read) that could leave a partition
silent. Here every fetched record is delivered, so a seek backwards simply replays.

Where this leaves Faust's and aiokafka's public interfaces, and why (pinned: faust-streaming and aiokafka
versions in pyproject.toml; tests/integration/streaming exercises every one of these paths):
- Faust has no public hook for how fetched records reach an agent: `transport.Consumer` (the driver class
  the transport instantiates), `Consumer._drain_messages` (the Fetcher's loop) and `_new_consumer_thread`
  are overridden, and `_thread._fetch_records` / `_thread._ensure_consumer` are called, because the public
  path is exactly the per-record conductor this module exists to avoid;
- Faust sets aiokafka's `fetch_max_wait_ms` itself with no setting to change it: `_create_worker_consumer`
  is extended to set aiokafka's `_fetch_max_wait_ms` before the fetcher starts (its constructor argument is
  the public form, but Faust builds the consumer);
- `_stopped` (consumer and fetcher), `_max_poll_records` and `app._consumer` are read: Faust exposes no
  public "is stopping" or "consumer created" check for a custom drain loop.
The worker's own use of a private call (`consumer._commit`) is explained in agents/worker.py.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, ClassVar

import aiokafka
import faust
from aiokafka.structs import ConsumerRecord
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.transport.drivers.aiokafka import Consumer as AIOKafkaDriverConsumer
from faust.types import ChannelT, TopicT


class FetchBuffer:
    """Records fetched and not yet taken by the agent. Filled from the consumer's thread, taken on the
    agent's loop; fetching pauses while `limit` records wait."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._records: list[ConsumerRecord[Any, Any]] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._records)

    def has_room(self) -> bool:
        return len(self._records) < self.limit

    def add(self, records: list[ConsumerRecord[Any, Any]]) -> None:
        with self._lock:
            self._records.extend(records)

    def take(self) -> list[ConsumerRecord[Any, Any]]:
        """Every record fetched so far (possibly none), oldest first within each partition."""
        with self._lock:
            taken, self._records = self._records, []
        return taken


class ShortWaitConsumerThread(AIOKafkaConsumerThread):
    """Faust's consumer thread with a short broker-side fetch wait.

    Faust fixes aiokafka's `fetch_max_wait_ms` at 1,500 ms. aiokafka keeps one fetch in flight per broker,
    leaving out partitions whose last records are not yet consumed; a record arriving on such a partition
    waits until that fetch returns, i.e. up to the full wait when the partitions it asked for are quiet.
    A short wait bounds that; at 1,000 changes/s it made no measurable difference on its own (busy
    partitions end each fetch early), the gain there came from draining on the consumer's thread.
    """

    fetch_max_wait_ms: ClassVar[int] = 1500

    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = self.fetch_max_wait_ms  # read when the consumer starts its fetcher
        return consumer


class BatchingConsumer(AIOKafkaDriverConsumer):
    """Faust's aiokafka consumer, fetching into `buffer` and waking `wake` instead of one event per record."""

    buffer: ClassVar[FetchBuffer | None] = None
    wake: ClassVar[ChannelT[Any] | None] = None
    thread_class: ClassVar[type[ShortWaitConsumerThread]] = ShortWaitConsumerThread

    def _new_consumer_thread(self) -> AIOKafkaConsumerThread:
        return self.thread_class(self, loop=self.loop, beacon=self.beacon)

    async def _drain_messages(self, fetcher: Any) -> None:  # called by Faust's Fetcher service
        buffer, wake = self.buffer, self.wake
        assert buffer is not None and wake is not None, "use deliver_in_batches()"
        consumer_stopped = self._stopped.is_set
        fetcher_stopped = fetcher._stopped.is_set
        arrived = asyncio.Event()
        pump: asyncio.Future[Any] = asyncio.wrap_future(asyncio.run_coroutine_threadsafe(
            self._pump(buffer, asyncio.get_running_loop(), arrived), self._thread.thread_loop))
        try:
            while not (consumer_stopped() or fetcher_stopped()):
                waiting: asyncio.Future[Any] = asyncio.ensure_future(arrived.wait())
                await asyncio.wait({waiting, pump}, return_when=asyncio.FIRST_COMPLETED)
                if pump.done():
                    waiting.cancel()
                    pump.result()  # re-raise why fetching stopped
                    return
                arrived.clear()
                if len(buffer) and wake.queue.empty():  # one pending wake-up takes everything
                    # A channel's stream yields a non-Event item as it is, with nothing to ack.
                    await wake.put(buffer)  # type: ignore[arg-type]
        except self.consumer_stopped_errors:
            if not self.app.should_stop:
                raise
            self.log.info("Broker stopped consumer, shutting down...")
        except asyncio.CancelledError:
            if not self.app.should_stop:
                raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            pump.cancel()

    async def _pump(self, buffer: FetchBuffer, loop: asyncio.AbstractEventLoop, arrived: asyncio.Event) -> None:
        """Runs on the consumer's own thread: drain aiokafka's prefetched records into `buffer` as soon as
        they arrive, so aiokafka fetches again at once. Going through the agent's loop for every fetch
        instead (Faust's getmany) made records wait there ~400 ms at 1,000 changes/s while the loop was busy
        applying and writing a batch; a plain consumer on the same machine sees them 66 ms after commit."""
        consumer = self._thread._ensure_consumer()
        while True:
            if not buffer.has_room() or not self.flow_active:
                await asyncio.sleep(0.01)  # the agent is behind, or a rebalance is in progress
                continue
            # No partition filter: this app has no tables, so no partition is ever paused for recovery.
            records = await self._thread._fetch_records(consumer, set(), timeout=0.25,
                                                        max_records=consumer._max_poll_records)
            if records:
                buffer.add([record for batch in records.values() for record in batch])
                loop.call_soon_threadsafe(arrived.set)


def deliver_in_batches(app: faust.App, topic: TopicT, *, limit: int, fetch_max_wait_ms: int = 50) -> ChannelT[Any]:
    """Subscribe `topic` and return a channel whose events are the `FetchBuffer` to `take()` from."""
    if app._consumer is not None:
        raise RuntimeError("deliver_in_batches must be called before the app's consumer exists")
    wake: ChannelT[Any] = app.channel(maxsize=1)
    thread = type("ShortWaitConsumerThread", (ShortWaitConsumerThread,), {"fetch_max_wait_ms": fetch_max_wait_ms})
    bound = type("BatchingConsumer", (BatchingConsumer,),
                 {"buffer": FetchBuffer(limit), "wake": wake, "thread_class": thread})
    transport: Any = app.transport  # the driver's Transport creates its consumer from this attribute
    transport.Consumer = bound
    app.topics.add(topic)
    return wake
