"""The Kafka engine: the processing core in Faust (faust-streaming) workers.

Each worker consumes the prediction, label and metric topics (keyed by model, so one
model's events stay on one partition and one worker), runs them through the same
:class:`~monitor.core.Monitor` as the embedded engine, and publishes alerts, window
summaries and dead letters. After every message, the state of the models it touched is
written to a Faust table (JSON, never pickle) backed by a changelog topic: a worker
that takes over a partition after a crash or a rebalance loads it and goes on where
the other stopped.

Messages are processed one at a time (``stream.events()``): the producer SDK packs
hundreds of events into one message, and Faust tables can only be written from within
an event's context. The table also records, per model, the offset of the last message
applied from each topic partition; a message redelivered after a crash (Kafka's
at-least-once delivery) is recognised and not counted twice, and alert ids are
deterministic, so a re-sent alert is the same alert.
"""

import json
import ssl
from typing import Any

import faust

from monitor.core import Monitor, Output
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
    )

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
    state = app.Table("state", key_type=bytes, value_type=bytes, partitions=kafka.partitions)
    engine = _Engine(settings, references, state)
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
        for letter in dead:
            await outputs[topics.DEAD_LETTER].send(value=letter.model_dump_json().encode())

    def agent(kind: EventKind, source: str) -> None:
        validator: Validator[Any] = Validator(kind, settings.models)

        async def process(stream: Any) -> None:
            async for event in stream.events():
                message = event.message
                where = f"{message.topic}/{message.partition}@{message.offset}"
                events, dead = validator.decode(event.value, where)
                position = (f"{message.topic}/{message.partition}", message.offset)
                out = engine.process(kind, events, position)
                await publish(out, dead)

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


class _Engine:
    """The monitor of one worker, with its models' state kept in a Faust table."""

    def __init__(self, settings: MonitorSettings, references: ReferenceSet, state: Any) -> None:
        self.settings = settings
        self.references = references
        self.state = state
        self.forget()

    def forget(self, *args: Any, **kwargs: Any) -> None:
        """Drop what is in memory (after a rebalance, the table is the truth)."""
        self.monitor = Monitor(self.settings, self.references, EventTimeClock())
        self.offsets: dict[str, dict[str, int]] = {}  # model -> topic/partition -> offset

    def process(self, kind: EventKind, events: list[Any], position: tuple[str, int]) -> Output:
        """Apply one message's events, once, and save the state of the models touched."""
        where, offset = position
        models = sorted({e.model for e in events})
        for model in models:
            if model not in self.offsets:
                saved = self.state.get(model.encode())
                state = json.loads(saved) if saved is not None else {"offsets": {}}
                if saved is not None:
                    self.monitor.import_model(model, state["monitor"])
                self.offsets[model] = state["offsets"]
        fresh = {m for m in models if self.offsets[m].get(where, -1) < offset}
        events = [e for e in events if e.model in fresh]
        if kind == "predictions":
            out = self.monitor.process_predictions(events)
        elif kind == "labels":
            out = self.monitor.process_labels(events)
        else:
            out = self.monitor.process_metrics(events)
        for model in fresh:
            self.offsets[model][where] = offset
            state = {"monitor": self.monitor.export_model(model), "offsets": self.offsets[model]}
            self.state[model.encode()] = json.dumps(state).encode()
        return out
