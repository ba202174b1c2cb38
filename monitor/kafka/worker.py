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

Whatever Faust drops around a rebalance, each stage takes a partition's messages in
offset order with none skipped (:class:`~monitor.kafka.delivery.Sequencer`), and a
batch counts as done, so its offsets as committable, only once what it sends is on the
broker: forwarded messages and dead letters; outputs, then the checkpoint. A worker
killed at any point loses nothing (see :class:`_Engine`).
"""

import asyncio
import logging
import shutil
import tempfile
import weakref
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any

import faust
import msgspec
from faust.types import TP

from monitor.core import Monitor, Output
from monitor.kafka.admin import by_model_topic
from monitor.kafka.connection import faust_options
from monitor.kafka.delivery import Admission, LogProbe, Sequencer
from monitor.kafka.join_log import JoinLog
from monitor.kafka.patches import consumer, pacing, producer, undecodable
from monitor.kafka.patches.table import PartitionedTable
from monitor.kafka.state import Message, TableState
from monitor.reference.profile import ReferenceSet
from monitor.settings import MonitorSettings
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
    pacing.install()  # no busy loop while the broker is down
    kafka = settings.kafka
    # Faust's data directory (by default <app_id>-data in the current directory) gets
    # only empty folders: the table is in memory, backed by its changelog topic. So a
    # temporary one, removed with the app or at exit.
    datadir = tempfile.mkdtemp(prefix=f"{kafka.app_id}-data-")
    app = faust.App(
        kafka.app_id,
        **faust_options(kafka),  # broker and broker_credentials
        store="memory://",
        datadir=datadir,
        topic_partitions=kafka.partitions,
        topic_replication_factor=kafka.replication,
        web_enabled=False,
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
    weakref.finalize(app, shutil.rmtree, datadir, ignore_errors=True)
    sources = {name + kafka.topic_suffix for name in topics.INPUT_TOPICS}
    sources |= {by_model_topic(kafka, kind) for kind in _KINDS}
    sequencer: Sequencer[TP] = Sequencer()
    app.on_partitions_revoked.connect(sequencer.forget)
    consumer.install(app, frozenset(sources), kafka.fetch_wait_ms, sequencer)
    producer.install(app)

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
    table = PartitionedTable(
        app,
        name="state",
        beacon=app.tables.beacon,
        key_type=bytes,
        value_type=bytes,
        partitions=kafka.partitions,
    )
    app.tables.add(table)

    async def publish_dead(dead: list[DeadLetter]) -> list[Any]:
        """Send dead letters; the futures of their delivery."""
        return [
            await outputs[topics.DEAD_LETTER].send(value=letter.model_dump_json().encode())
            for letter in dead
        ]

    async def publish(out: Output, dead: list[DeadLetter]) -> None:
        """Send a batch's outputs and dead letters; return once the broker has them."""
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
        sent += await publish_dead(dead + out.dead)  # the validator's, then the core's
        await asyncio.gather(*sent)

    engine = _Engine(settings, references, table, publish)
    app.on_partitions_revoked.connect(engine.forget)

    def stages(kind: EventKind, source: str) -> None:
        router: Validator[Any] = Validator(kind, settings.models, FORWARD_BYTES)
        applier: Validator[Any] = Validator(kind, settings.models)
        by_model = topic(by_model_topic(kafka, kind))
        admit = _admission(sequencer, LogProbe(kafka.kafka_python_options()))

        async def route(batch: list[Any]) -> dict[TP, int]:
            dead: list[DeadLetter] = []
            sent = []
            admitted, marks = await admit(batch)
            for event in admitted:
                message = event.message
                origin = Origin(message.topic, message.partition, message.offset, message.key)
                events, rejected = _validate(router, event.value, origin, message.headers)
                dead += rejected
                header = [(ORIGIN, origin.source.encode())]
                for model, payload in split_by_model(event.value, events, bool(rejected)):
                    sent.append(
                        await by_model.send(key=model.encode(), value=payload, headers=header)
                    )
            await _reread(app, sequencer)
            sent += await publish_dead(dead)
            await asyncio.gather(*sent)  # forwarded and dead-lettered: the batch is done
            return marks

        async def apply(batch: list[Any]) -> dict[TP, int]:
            messages, dead = [], []
            admitted, marks = await admit(batch)
            for event in admitted:
                message = event.message
                origin = _origin(message)
                events, rejected = _validate(applier, event.value, origin, message.headers)
                source = f"{origin.topic}/{origin.partition}"
                messages.append(Message(source, message.partition, origin.offset, events))
                dead += rejected
            await _reread(app, sequencer)
            await engine.process(kind, messages, dead)
            return marks

        def agent(work: Callable[[list[Any]], Awaitable[dict[TP, int]]]) -> Any:
            async def take(stream: Any) -> None:
                async for batch in stream.take_events(kafka.batch_messages, kafka.batch_wait):
                    try:
                        marks = await work(batch)
                    except Exception:  # a bug: the batch is read again, never skipped
                        log.exception("%s failed; reading its batch again", work.__name__)
                        for tp in {event.message.tp for event in batch}:
                            sequencer.rewind(tp)
                        await _reread(app, sequencer)
                        await asyncio.sleep(1.0)  # a failure that repeats: once a second
                    else:
                        sequencer.done(marks)

            return take

        app.agent(topic(source), name=f"driftline.route.{kind}")(agent(route))
        app.agent(by_model, name=f"driftline.apply.{kind}")(agent(apply))

    for kind, source in _KINDS.items():
        stages(kind, source + kafka.topic_suffix)
    return app


Admit = Callable[[list[Any]], Awaitable[tuple[list[Any], dict[TP, int]]]]
"""A stage's admission: the events of a batch to take, in order, and the offset after the
last one taken per partition (what the batch makes committable once it is done)."""


def _admission(sequencer: Sequencer[TP], probe: LogProbe) -> Admit:
    """The admission of a stage's batches: a delivered message is taken if it is the next
    of its partition (a stage's own probe: kafka-python's consumer is used by one thread
    at a time)."""

    async def admit_message(message: Any) -> int | None:
        """The offset after ``message`` if it is taken, else None."""
        tp, offset, last = message.tp, message.offset, _last_offset(message)
        admission, expected = sequencer.admit(tp, offset, last), sequencer.expected(tp)
        if admission is Admission.GAP and expected is not None:  # dropped, or no record
            first = await asyncio.to_thread(probe.first, tp.topic, tp.partition, expected)
            log.info(
                "%s/%s: %s delivered, %s expected, %s next in the log",
                tp.topic,
                tp.partition,
                offset,
                expected,
                first,
            )
            sequencer.absent(tp, first, offset)
            admission = sequencer.admit(tp, offset, last)
        return last + 1 if admission is Admission.APPLY else None

    async def admit(batch: list[Any]) -> tuple[list[Any], dict[TP, int]]:
        admitted, marks = [], {}
        for event in batch:
            mark = await admit_message(event.message)
            if mark is not None:
                admitted.append(event)
                marks[event.message.tp] = mark
        return admitted, marks

    return admit


def _last_offset(message: Any) -> int:
    """The last offset a message stands for: its own, or its batch's last for the
    placeholder of a record batch that could not be decoded.

    >>> from types import SimpleNamespace
    >>> _last_offset(SimpleNamespace(offset=7, headers=[]))
    7
    >>> _last_offset(SimpleNamespace(offset=7, headers=[(undecodable.UNDECODABLE, b"zstd"),
    ...                                                 (undecodable.OFFSETS, b"7-9")]))
    9
    """
    broken = undecodable.undecodable_reason(message.headers)
    if broken is not None:
        last = broken[1].rpartition("-")[2]
        if last.isdigit():
            return max(int(last), int(message.offset))
    return int(message.offset)


async def _reread(app: faust.App, sequencer: Sequencer[TP]) -> None:
    """Seek the partitions the sequencer wants read again (records Faust dropped), in
    the consumer's thread: Faust's ``seek`` calls aiokafka from this one, and a fetch
    running meanwhile in the consumer's thread crashed the worker (a ``KeyError``)."""
    rereads = sequencer.rereads()
    if rereads:
        where = ", ".join(f"{tp.topic}/{tp.partition}@{offset}" for tp, offset in rereads.items())
        log.info("reading again from %s: records the consumer did not deliver", where)
        await app.consumer.seek_wait(rereads)


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


class _Engine:
    """The monitor of one worker, its models' state checkpointed to a Faust table.

    A batch is applied, its outputs sent and awaited, then its checkpoint written and
    awaited; only then is it done (when :meth:`process` returns) and its offsets
    committable. Faust's own flush before a commit waits at most 0.1 s per buffered
    message, so a commit could pass a checkpoint still in the producer's buffer: a kill
    then lost the batch. Outputs go first because a durable checkpoint makes its
    messages look redelivered to a successor, which would not send their outputs again.
    The three kinds take turns (a lock), so no checkpoint covers another batch's
    unsent outputs.
    """

    def __init__(
        self,
        settings: MonitorSettings,
        references: ReferenceSet,
        table: PartitionedTable,
        publish: Callable[[Output, list[DeadLetter]], Awaitable[None]],
    ) -> None:
        self.settings = settings
        self.references = references
        self.table = table
        self.publish = publish
        self.lock = asyncio.Lock()
        self.join_log = JoinLog(logging.getLogger(__name__))
        self.forget()

    def forget(self, *args: Any, **kwargs: Any) -> None:
        """Drop what is in memory (after a rebalance, the table is the truth)."""
        monitor = Monitor(self.settings, self.references, EventTimeClock())
        self.state = TableState(monitor, self.table)

    async def process(
        self, kind: EventKind, messages: list[Message], dead: list[DeadLetter]
    ) -> None:
        """Apply a micro-batch of messages once, publish its outputs and dead letters,
        and checkpoint the models it touched."""
        async with self.lock:
            state = self.state
            try:
                out = state.apply(kind, messages)
                self.join_log.update(state.monitor)
                await self.publish(out, dead)
                state.checkpoint()
                await self.table.flush()
            except Exception:
                self.forget()  # memory may hold half a batch: the table is the truth
                raise
