"""The Kafka engine: the processing core in Faust (faust-streaming) workers.

A worker runs two stages per kind of event (predictions, labels, metrics):

1. **Route.** It consumes the public input topic as producers wrote it, whatever
   their partitioner or key (librdkafka's CRC32, Java's murmur2, a null key, a key
   that is not the model), validates each message and forwards its events to the
   internal topic ``<app_id>-<kind>-by-model``, keyed by the event's model (a batch
   holding several models is split). Whatever cannot be accepted (no value, bad JSON,
   a wrong type, a record batch that does not decode) becomes one dead letter per
   message, with its topic, partition, offset and key. Each forwarded message carries
   the topic, partition and offset it came from in the header :data:`ORIGIN`.
2. **Apply.** It consumes the by-model topics, where all of a model's predictions,
   labels and metrics are on the same partition number, so one worker holds the model
   (Faust assigns same-numbered partitions of topics with as many partitions to one
   worker), and runs them through the same :class:`~monitor.core.Monitor` as the
   embedded engine; it publishes alerts and window summaries.

Messages are taken in micro-batches (``stream.take_events``: up to
``kafka.batch_messages`` messages, or what came within ``kafka.batch_wait`` seconds).
After each applied batch, :class:`~monitor.kafka.state.TableState` checkpoints the
models it touched to a Faust table (JSON, never pickle) backed by a changelog topic
co-partitioned with the by-model topics; a worker that takes over a partition after a
crash or a rebalance loads it and goes on where the other stopped. Delivery is at least
once at each stage: a message routed twice (a crash between forwarding and committing)
is applied once, since checkpoints keep the last origin offset applied per model and
input partition. Alert ids are deterministic, so a re-sent alert is the same alert.
"""

import logging
import ssl
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import faust
import msgspec
import river.drift  # noqa: F401  # label trackers' detectors: loaded at start, not mid-stream
from faust.transport.drivers import aiokafka as faust_aiokafka

from monitor.core import Monitor, Output
from monitor.kafka import undecodable
from monitor.kafka.admin import by_model_topic
from monitor.kafka.join_log import JoinLog
from monitor.kafka.pacing import pace_metadata_retries
from monitor.kafka.state import Message, TableState
from monitor.reference.profile import ReferenceSet
from monitor.settings import KafkaSettings, MonitorSettings
from monitor.types import EventTimeClock
from monitor.validate.validator import EventKind, Origin, Validator
from schemas import topics
from schemas.dead_letter import DeadLetter

__all__ = ["ORIGIN", "build_app", "split_by_model"]

ORIGIN = "driftline-origin"
"""Header of a routed message: ``topic/partition@offset`` of the input message."""

FORWARD_BYTES = 1_000_000 - 16 * 1024
"""Largest message a worker forwards: under the 1,000,000 bytes that Kafka's producers
and topics accept by default, with room for the key and headers. A compressed input
message can hold a larger event; it is dead-lettered as oversize."""

_KINDS: dict[EventKind, str] = {
    "predictions": topics.PREDICTIONS,
    "labels": topics.LABELS,
    "metrics": topics.METRICS,
}

log = logging.getLogger(__name__)


def build_app(settings: MonitorSettings, references: ReferenceSet) -> faust.App:
    """A Faust app running the monitor on the configured broker."""
    undecodable.install()  # a batch that does not decode: a dead letter, not a crash loop
    pace_metadata_retries()  # no busy loop while the broker is down
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
    sources = {name + kafka.topic_suffix for name in topics.INPUT_TOPICS}
    sources |= {by_model_topic(kafka, kind) for kind in _KINDS}
    app.transport.Consumer = _consumer_class(frozenset(sources), kafka.fetch_wait_ms)  # type: ignore[misc]
    app.transport.Producer = _IdempotentProducer  # type: ignore[misc]

    def topic(name: str) -> Any:
        return app.topic(name, key_type=bytes, value_type=bytes)

    outputs = {
        name: topic(name + kafka.topic_suffix)
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

    async def publish_dead(dead: list[DeadLetter]) -> None:
        for letter in dead:
            await outputs[topics.DEAD_LETTER].send(value=letter.model_dump_json().encode())

    async def publish(out: Output) -> None:
        for alert in out.alerts:
            await outputs[alert.topic].send(
                key=alert.model.encode(), value=alert.model_dump_json().encode()
            )
        for stats in out.stats:
            await outputs[topics.FEATURE_STATS].send(
                key=stats.model.encode(), value=stats.model_dump_json().encode()
            )

    def stages(kind: EventKind, source: str) -> None:
        router: Validator[Any] = Validator(kind, settings.models, FORWARD_BYTES)
        applier: Validator[Any] = Validator(kind, settings.models)
        by_model = topic(by_model_topic(kafka, kind))

        async def route(stream: Any) -> None:
            async for batch in stream.take_events(kafka.batch_messages, kafka.batch_wait):
                dead: list[DeadLetter] = []
                for event in batch:
                    message = event.message
                    origin = Origin(message.topic, message.partition, message.offset, message.key)
                    events, rejected = _validate(router, event.value, origin, message.headers)
                    dead += rejected
                    header = [(ORIGIN, origin.source.encode())]
                    for model, payload in split_by_model(event.value, events, bool(rejected)):
                        await by_model.send(key=model.encode(), value=payload, headers=header)
                await publish_dead(dead)

        async def apply(stream: Any) -> None:
            async for batch in stream.take_events(kafka.batch_messages, kafka.batch_wait):
                messages, dead = [], []
                for event in batch:
                    message = event.message
                    origin = _origin(message)
                    events, rejected = _validate(applier, event.value, origin, message.headers)
                    source = f"{origin.topic}/{origin.partition}"
                    messages.append(Message(source, message.partition, origin.offset, events))
                    dead += rejected
                out = engine.process(kind, messages)
                await publish(out)
                await publish_dead(dead + out.dead)  # the validator's, then the core's (limits.*)

        app.agent(topic(source), name=f"driftline.route.{kind}")(route)
        app.agent(by_model, name=f"driftline.apply.{kind}")(apply)

    for kind, source in _KINDS.items():
        stages(kind, source + kafka.topic_suffix)
    return app


def _validate(
    validator: Validator[Any], value: bytes | None, origin: Origin, headers: Any
) -> tuple[list[Any], list[DeadLetter]]:
    """The events of one message and its dead letters; never raises."""
    broken = undecodable.undecodable_reason(headers)
    if broken is not None:
        reason, offsets = broken
        log.warning(
            "dead-lettered undecodable record batch %s (offsets %s): %s",
            origin.source,
            offsets,
            reason,
        )
        message = f"{reason} (offsets {offsets} of {origin.topic}/{origin.partition})"
        return [], [
            validator.dead_letter(None, origin.source, "undecodable_batch", message, origin)
        ]
    try:
        return validator.decode(value, origin.source, origin)
    except Exception as error:  # a bug must cost one message, not the worker
        log.exception("refused %s: unexpected error while decoding", origin.source)
        reason = f"{type(error).__name__}: {error}"
        return [], [validator.dead_letter(value, origin.source, "internal_error", reason, origin)]


def _origin(message: Any) -> Origin:
    """Where a routed message came from (its own place if it has no origin header)."""
    for name, value in message.headers or ():
        if name == ORIGIN:
            place, offset = bytes(value).decode().rsplit("@", 1)
            topic, partition = place.rsplit("/", 1)
            return Origin(topic, int(partition), int(offset))
    return Origin(message.topic, message.partition, message.offset)


def split_by_model(
    payload: bytes | None,
    events: Sequence[Any],
    rejected: bool,
    max_bytes: int = FORWARD_BYTES,
) -> Iterator[tuple[str, bytes]]:
    """``(model, JSON payload)`` per model of a message's accepted ``events``.

    A message whose events were all accepted and belong to one model is forwarded as
    it came; otherwise each model's events are encoded again, as JSON arrays of at most
    ``max_bytes`` (an event is never over it: the router's validator refused those).

    >>> from schemas.wire import WireLabel
    >>> labels = [WireLabel("a", "m1", 0.0, 1), WireLabel("b", "m2", 0.0, 0),
    ...           WireLabel("c", "m1", 1.0, 0)]
    >>> [(m, len(msgspec.json.decode(p))) for m, p in split_by_model(b"[...]", labels, False)]
    [('m1', 2), ('m2', 1)]
    >>> [(m, len(msgspec.json.decode(p))) for m, p in split_by_model(None, labels, False, 80)]
    [('m1', 1), ('m1', 1), ('m2', 1)]
    >>> list(split_by_model(b'{"model": "m1"}', labels[:1], False))
    [('m1', b'{"model": "m1"}')]
    """
    if not events:
        return
    first = events[0].model
    if payload is not None and not rejected and all(e.model == first for e in events):
        yield first, payload
        return
    groups: dict[str, list[bytes]] = {}
    for event in events:
        groups.setdefault(event.model, []).append(msgspec.json.encode(event))
    for model, encoded in groups.items():
        chunk: list[bytes] = []
        size = 2
        for item in encoded:
            if chunk and size + len(item) + 1 > max_bytes:
                yield model, b"[" + b",".join(chunk) + b"]"
                chunk, size = [], 2
            chunk.append(item)
            size += len(item) + 1
        yield model, b"[" + b",".join(chunk) + b"]"


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
        self.join_log = JoinLog(logging.getLogger(__name__))
        self.forget()

    def forget(self, *args: Any, **kwargs: Any) -> None:
        """Drop what is in memory (after a rebalance, the table is the truth)."""
        monitor = Monitor(self.settings, self.references, EventTimeClock())
        self.state = TableState(monitor, self.table)

    def process(self, kind: EventKind, messages: list[Message]) -> Output:
        """Apply a micro-batch of messages, once, and checkpoint the models touched."""
        out = self.state.process(kind, messages)
        self.join_log.update(self.state.monitor)
        return out
