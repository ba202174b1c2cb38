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
"""

import ssl
from collections.abc import Mapping
from typing import Any

import faust
import river.drift  # noqa: F401  # label trackers' detectors: loaded at start, not mid-stream
from faust.transport.drivers import aiokafka as faust_aiokafka

from monitor.core import Monitor, Output
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
    )
    inputs = {name + kafka.topic_suffix for name in topics.INPUT_TOPICS}
    app.transport.Consumer = _consumer_class(frozenset(inputs), kafka.fetch_wait_ms)  # type: ignore[misc]
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
    engine = _Engine(settings, references, table)
    app.on_partitions_revoked.connect(engine.forget)

    async def publish(out: Output, dead: list[Any]) -> None:
        for alert in out.alerts:
            await outputs[alert.topic].send(
                key=alert.model.encode(), value=alert.model_dump_json().encode()
            )
        for stats in out.stats:
            await outputs[topics.FEATURE_STATS].send(
                key=stats.model.encode(), value=stats.model_dump_json().encode()
            )
        for letter in dead + out.dead:  # the validator's, then the core's (limits.*)
            await outputs[topics.DEAD_LETTER].send(value=letter.model_dump_json().encode())

    def agent(kind: EventKind, source: str) -> None:
        validator: Validator[Any] = Validator(kind, settings.models)

        async def process(stream: Any) -> None:
            async for batch in stream.take_events(kafka.batch_messages, kafka.batch_wait):
                messages, dead = [], []
                for event in batch:
                    message = event.message
                    where = f"{message.topic}/{message.partition}"
                    events, rejected = validator.decode(event.value, f"{where}@{message.offset}")
                    messages.append(Message(where, message.partition, message.offset, events))
                    dead += rejected
                await publish(engine.process(kind, messages), dead)

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


def _consumer_class(inputs: frozenset[str], fetch_wait_ms: int) -> type[faust_aiokafka.Consumer]:
    """Faust's consumer with two fixes, for the input topics ``inputs``.

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
    """

    class Thread(faust_aiokafka.AIOKafkaConsumerThread):
        def _create_worker_consumer(self, transport: Any) -> Any:
            consumer = super()._create_worker_consumer(transport)
            consumer._fetch_max_wait_ms = fetch_wait_ms  # read when the consumer starts
            return consumer

    class Consumer(faust_aiokafka.Consumer):
        def _new_consumer_thread(self) -> Thread:
            return Thread(self, loop=self.loop, beacon=self.beacon)

        async def seek_to_committed(self) -> Mapping[Any, int]:
            committed: Mapping[Any, int] = await super().seek_to_committed()
            for tp, offset in committed.items():
                if not offset and tp.topic in inputs:
                    await self._seek(tp, 0)
            return committed

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


class _Engine:
    """The monitor of one worker, its models' state checkpointed to a Faust table."""

    def __init__(
        self, settings: MonitorSettings, references: ReferenceSet, table: _PartitionedTable
    ) -> None:
        self.settings = settings
        self.references = references
        self.table = table
        self.forget()

    def forget(self, *args: Any, **kwargs: Any) -> None:
        """Drop what is in memory (after a rebalance, the table is the truth)."""
        monitor = Monitor(self.settings, self.references, EventTimeClock())
        self.state = TableState(monitor, self.table)

    def process(self, kind: EventKind, messages: list[Message]) -> Output:
        """Apply a micro-batch of messages, once, and checkpoint the models touched."""
        return self.state.process(kind, messages)
