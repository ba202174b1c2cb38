"""The Kafka engine: the processing core in Faust (faust-streaming) workers.

Each worker consumes the prediction, label and metric topics (keyed by model, so one
model's events stay on one partition and one worker), runs them through the same
:class:`~monitor.core.Monitor` as the embedded engine, and publishes alerts, window
summaries and dead letters.

Messages are taken in micro-batches (``stream.take_events``: up to
``kafka.batch_messages`` messages, or what came within ``kafka.batch_wait`` seconds),
decoded and validated together, and applied in one call to the core. After each batch,
:class:`~monitor.kafka.state.TableState` checkpoints the models it touched to a Faust
table (JSON, never pickle) backed by a changelog topic; a worker that takes over a
partition after a crash or a rebalance loads it and goes on where the other stopped,
skipping redelivered messages. Alert ids are deterministic, so a re-sent alert is the
same alert.

A batch's messages are acknowledged (and later committed) only once its outputs and
then its checkpoint are on the broker: a kill at any point loses neither an event nor
an output (see :class:`_Engine`).
"""

import asyncio
import ssl
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import faust
import river.drift  # noqa: F401  # label trackers' detectors: loaded at start, not mid-stream
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from monitor.core import Monitor, Output
from monitor.kafka.delivery import Admission, LogProbe, Sequencer
from monitor.kafka.state import Message, TableState
from monitor.reference.profile import ReferenceSet
from monitor.settings import KafkaSettings, MonitorSettings
from monitor.types import EventTimeClock
from monitor.validate.validator import EventKind, Validator
from schemas import topics

__all__ = ["build_app"]


def build_app(settings: MonitorSettings, references: ReferenceSet) -> faust.App:
    """A Faust app running the monitor on the configured broker."""
    kafka = settings.kafka
    app = faust.App(
        kafka.app_id,
        broker=kafka.broker,
        store="memory://",
        topic_partitions=kafka.partitions,
        topic_replication_factor=kafka.replication,
        web_enabled=False,
        broker_credentials=credentials(kafka),
        key_serializer="raw",
        value_serializer="raw",
        # Faust's defaults (4,096-message stream buffers, aiokafka's 500-record polls)
        # starve micro-batches; these let a batch fill from one poll.
        stream_buffer_maxsize=4 * kafka.batch_messages,
        broker_max_poll_records=kafka.batch_messages,
        broker_session_timeout=kafka.session_timeout,
        broker_heartbeat_interval=kafka.heartbeat_interval,
        consumer_group_instance_id=kafka.instance_id,
    )
    inputs = {name + kafka.topic_suffix for name in topics.INPUT_TOPICS}
    sequencer: Sequencer[TP] = Sequencer()
    app.on_partitions_revoked.connect(sequencer.forget)
    app.transport.Consumer = _consumer_class(frozenset(inputs), kafka.fetch_wait_ms, sequencer)  # type: ignore[misc]
    app.transport.Producer = _IdempotentProducer  # type: ignore[misc]

    def topic(name: str) -> Any:
        return app.topic(name + kafka.topic_suffix, key_type=bytes, value_type=bytes)

    outputs = {
        name: topic(name)
        for name in (
            topics.DRIFT_ALERTS,
            topics.DEGRADATION_ALERTS,
            topics.FEATURE_STATS,
            topics.DEAD_LETTER,
        )
    }
    table = _PartitionedTable(
        app,
        name="state",
        beacon=app.tables.beacon,
        key_type=bytes,
        value_type=bytes,
        partitions=kafka.partitions,
    )
    app.tables.add(table)

    async def publish(out: Output, dead: list[Any]) -> None:
        """Send the outputs of a batch and wait until the broker has them all."""
        sent = []
        for alert in out.alerts:
            sent.append(
                await outputs[alert.topic].send(
                    key=alert.model.encode(), value=alert.model_dump_json().encode()
                )
            )
        for stats in out.stats:
            sent.append(
                await outputs[topics.FEATURE_STATS].send(
                    key=stats.model.encode(), value=stats.model_dump_json().encode()
                )
            )
        for letter in dead:
            sent.append(
                await outputs[topics.DEAD_LETTER].send(value=letter.model_dump_json().encode())
            )
        await asyncio.gather(*sent)

    engine = _Engine(settings, references, table, publish)
    app.on_partitions_revoked.connect(engine.forget)

    def agent(kind: EventKind, source: str) -> None:
        validator: Validator[Any] = Validator(kind, settings.models)
        probe = LogProbe(kafka.client_config())

        async def admit(message: Any) -> bool:
            tp, offset = message.tp, message.offset
            admission, expected = sequencer.admit(tp, offset), sequencer.expected(tp)
            if admission is Admission.GAP and expected is not None:  # dropped, or no record
                first = await asyncio.to_thread(probe.first, tp.topic, tp.partition, expected)
                sequencer.absent(tp, first, offset)
                admission = sequencer.admit(tp, offset)
            return admission is Admission.APPLY

        async def process(stream: Any) -> None:
            async for batch in stream.take_events(kafka.batch_messages, kafka.batch_wait):
                messages, dead, marks = [], [], {}
                for event in batch:
                    message = event.message
                    if not await admit(message):
                        continue
                    marks[message.tp] = message.offset + 1
                    where = f"{message.topic}/{message.partition}"
                    events, rejected = validator.decode(event.value, f"{where}@{message.offset}")
                    messages.append(Message(where, message.partition, message.offset, events))
                    dead += rejected
                for tp, offset in sequencer.rereads().items():
                    await app.consumer.seek(tp, offset)
                await engine.process(kind, messages, dead)
                sequencer.done(marks)

        app.agent(topic(source), name=f"driftline.{kind}")(process)

    agent("predictions", topics.PREDICTIONS)
    agent("labels", topics.LABELS)
    agent("metrics", topics.METRICS)
    return app


def credentials(kafka: KafkaSettings) -> Any:
    """Faust's credentials for the configured security protocol, or None for plaintext.

    >>> credentials(KafkaSettings(security_protocol="SASL_PLAINTEXT",
    ...                           sasl_mechanism="SCRAM-SHA-512", sasl_username="monitor",
    ...                           sasl_password="secret"))
    <SASLCredentials: username=monitor>
    """
    context = None
    if kafka.security_protocol in ("SSL", "SASL_SSL"):
        context = ssl.create_default_context(cafile=kafka.ssl_cafile)
    if kafka.security_protocol.startswith("SASL"):
        password = kafka.sasl_password
        return faust.SASLCredentials(
            username=kafka.sasl_username,
            password=None if password is None else password.get_secret_value(),
            ssl_context=context,
            mechanism=kafka.sasl_mechanism or "PLAIN",
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None


def _consumer_class(
    inputs: frozenset[str], fetch_wait_ms: int, sequencer: Sequencer[TP]
) -> type[faust_aiokafka.Consumer]:
    """Faust's consumer with three fixes, for the input topics ``inputs``.

    - **Fetch wait.** Faust creates aiokafka's consumer with a fixed
      ``fetch_max_wait_ms=1500``. One fetch request is in flight per broker, covering
      every partition with nothing buffered: quiet ones (labels, metrics, changelogs)
      make it wait the whole 1.5 s, and a busy partition whose buffer was drained
      meanwhile waits too. The benchmark saw a worker idle in 1-1.5 s gaps, more than
      half of the time; ``kafka.fetch_wait_ms`` (100 ms) keeps it fed.
    - **First messages.** At a rebalance Faust drops the messages it had fetched but
      not processed and seeks every partition back to its committed offset; aiokafka's
      ``seek_to_committed`` does not seek when that offset is missing or 0, so on a
      partition nobody had committed yet those messages were lost (seen in tests:
      labels sent during a rebalance; see robinhood/faust#115). Such input partitions
      are sought to their start: checkpoints skip what was already applied.
    - **Nothing skipped.** Around a rebalance Faust drops messages and then commits
      past them (see :mod:`monitor.kafka.delivery`). On input partitions its read
      offsets are off (it delivers whatever it fetched, the ``sequencer`` admits the
      next offset only) and the offset committed is the ``sequencer``'s: after what
      was applied and checkpointed.
    """

    class Thread(faust_aiokafka.AIOKafkaConsumerThread):
        def _create_worker_consumer(self, transport: Any) -> Any:
            consumer = super()._create_worker_consumer(transport)
            consumer._fetch_max_wait_ms = fetch_wait_ms  # read when the consumer starts
            return consumer

    class ReadOffsets(defaultdict[Any, int | None]):
        def __getitem__(self, tp: Any) -> int | None:
            return None if tp.topic in inputs else super().__getitem__(tp)

    class Consumer(faust_aiokafka.Consumer):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._read_offset = ReadOffsets(lambda: None)

        def _new_consumer_thread(self) -> Thread:
            return Thread(self, loop=self.loop, beacon=self.beacon)

        async def seek_to_committed(self) -> Mapping[Any, int]:
            committed: Mapping[Any, int] = await super().seek_to_committed()
            for tp, offset in committed.items():
                if tp.topic in inputs:
                    if not offset:
                        await self._seek(tp, 0)
                    sequencer.start(tp, offset or 0)
            return committed

        def _new_offset(self, tp: Any) -> int | None:
            if tp.topic not in inputs:
                offset: int | None = super()._new_offset(tp)
                return offset
            self._acked[tp].clear()  # Faust's acknowledgements: not used for inputs
            self._acked_index[tp].clear()
            return sequencer.committable(tp)

    return Consumer


class _IdempotentProducer(faust_aiokafka.Producer):
    """Faust's producer with Kafka's idempotence on (Faust enables it only inside
    exactly-once transactions): a retried send is not written twice."""

    def _settings_extra(self) -> Mapping[str, Any]:
        return {"acks": "all", "enable_idempotence": True}


class _PartitionedTable(faust.Table[bytes, bytes]):
    """A Faust table written outside an event's context, to a partition named by the
    writer: :class:`TableState` checkpoints a whole micro-batch at once, each model to
    the partition its events came from (Faust would take the current event's)."""

    partition: int | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent: list[Any] = []  # changelog writes not awaited by flush() yet

    def partition_for_key(self, key: Any) -> int | None:
        if self.partition is None:
            raise RuntimeError("the state table is written through _Engine only")
        return self.partition

    def put(self, partition: int, key: bytes, value: bytes) -> None:
        self.partition = partition
        try:
            self[key] = value
        finally:
            self.partition = None

    def delete(self, partition: int, key: bytes) -> None:
        self.partition = partition
        try:
            self.pop(key, None)
        finally:
            self.partition = None

    def send_changelog(self, *args: Any, **kwargs: Any) -> Any:
        future = super().send_changelog(*args, **kwargs)
        self.sent.append(future)
        return future

    async def flush(self) -> None:
        """Wait until the broker has every changelog write made so far."""
        sent, self.sent = self.sent, []
        await asyncio.gather(*sent)


class _Engine:
    """The monitor of one worker, its models' state checkpointed to a Faust table.

    A batch is applied, its outputs sent and awaited, then its checkpoint written and
    awaited, and only then are its messages acknowledged (when :meth:`process`
    returns). Faust commits acknowledged offsets only, and its own flush before a
    commit waits at most 0.1 s per buffered message, so without the wait a commit
    could pass a checkpoint still in the producer's buffer: a kill then lost the
    batch. Outputs go first because a durable checkpoint makes its messages look
    redelivered to a successor, which would not send their outputs again. The three
    agents take turns (a lock), so no checkpoint covers another batch's unsent outputs.
    """

    def __init__(
        self,
        settings: MonitorSettings,
        references: ReferenceSet,
        table: _PartitionedTable,
        publish: Callable[[Output, list[Any]], Awaitable[None]],
    ) -> None:
        self.settings = settings
        self.references = references
        self.table = table
        self.publish = publish
        self.lock = asyncio.Lock()
        self.forget()

    def forget(self, *args: Any, **kwargs: Any) -> None:
        """Drop what is in memory (after a rebalance, the table is the truth)."""
        monitor = Monitor(self.settings, self.references, EventTimeClock())
        self.state = TableState(monitor, self.table)

    async def process(self, kind: EventKind, messages: list[Message], dead: list[Any]) -> None:
        """Apply a micro-batch of messages once, publish its outputs and dead letters,
        and checkpoint the models it touched."""
        async with self.lock:
            state = self.state
            out = state.apply(kind, messages)
            await self.publish(out, dead)
            state.checkpoint()
            await self.table.flush()
