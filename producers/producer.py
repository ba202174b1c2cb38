"""The event producer services use: validate, buffer, batch, send to Kafka off-thread.

A call to ``send_prediction`` validates the event against :mod:`schemas` (a bad event
raises ``pydantic.ValidationError`` in the caller, where the bug is), appends it to a
bounded buffer and returns: it never waits for Kafka. A background thread, started with
the first event, connects on first use, packs the events of each model into batch
messages (JSON arrays keyed by model), and sends them with kafka-python's idempotent,
``acks=all`` producer. While Kafka is down, events wait in the buffer; when it is full,
the oldest are dropped and counted, and ``on_error`` hears of every problem (a broker
whose TLS certificate does not verify is reported as a :class:`~producers.security.TLSError`
that says why).

Examples
--------
>>> producer = DriftlineProducer(broker="localhost:1")  # no connection yet
>>> producer.send_prediction("fraud-scorer", {"amount": 12.5, "country": "DE"}, 0.83,
...                          model_version="3", event_id="e1")
'e1'
>>> producer.stats.queued
1
>>> producer.close(timeout=0)
False
"""

import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

from pydantic import BaseModel

from producers.buffer import Batch, EventBuffer
from producers.security import tls_problem
from producers.settings import ProducerSettings, renamed_keywords
from schemas.events import LabelEvent, MetricEvent, PredictionEvent

__all__ = ["DeliveryProblem", "DriftlineProducer", "ErrorCallback", "ProducerStats"]

logger = logging.getLogger("driftline.producer")

RETRY_PAUSE = 1.0
"""Seconds between two attempts to reach Kafka after a failure."""


@dataclass(frozen=True)
class DeliveryProblem:
    """What went wrong: ``dropped`` (buffer full, or unsent at close), ``failed`` (Kafka
    refused them after retries) or ``retrying`` (Kafka unreachable, events kept)."""

    kind: str
    events: int
    error: BaseException | None


ErrorCallback = Callable[[DeliveryProblem], None]


def _event_time(ts: datetime | float | str | None) -> Any:
    """Now, or the given time as the schemas accept it (they validate it)."""
    return datetime.now(UTC) if ts is None else ts


def _log(problem: DeliveryProblem) -> None:
    logger.warning(
        "driftline producer: %s %d events: %s", problem.kind, problem.events, problem.error
    )


@dataclass
class ProducerStats:
    """Counts of events, from queued to acknowledged."""

    queued: int = 0
    sent: int = 0
    dropped: int = 0
    failed: int = 0


class DriftlineProducer:
    """Sends prediction, label and metric events to Kafka without blocking the caller.

    Pass a :class:`~producers.settings.ProducerSettings`, or its fields as keywords
    (``broker="kafka://kafka:9092"``); the ``DRIFTLINE_KAFKA__*`` variables (the
    connection) and ``DRIFTLINE_PRODUCER_*`` ones (the rest) fill what they leave out.
    Use it as a context manager, or call :meth:`close`, so the last events are flushed.
    """

    def __init__(
        self,
        settings: ProducerSettings | None = None,
        *,
        on_error: ErrorCallback = _log,
        **overrides: Any,
    ) -> None:
        overrides = renamed_keywords(overrides)
        base = settings or ProducerSettings(**overrides)
        self.settings = base.model_copy(update=overrides) if settings and overrides else base
        self.on_error = on_error
        self.stats = ProducerStats()
        self._buffer = EventBuffer(
            self.settings.buffer_events, self.settings.batch_events, self.settings.batch_bytes
        )
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._kafka: Any = None
        self._closing = False
        self._flushing = False
        self._busy = False
        self._in_flight = 0  # events taken by the thread, not yet handed to kafka-python
        self._abandoned = False  # close() gave up on the thread and counted its events

    def send_prediction(
        self,
        model: str,
        features: Mapping[str, Any],
        prediction: float | str | Mapping[str, float] | None = None,
        *,
        model_version: str = "unversioned",
        event_id: str | None = None,
        ts: datetime | float | str | None = None,
        label: float | str | bool | None = None,
    ) -> str:
        """Queue one PredictionEvent; return its ``event_id`` (a new UUID by default)."""
        event = PredictionEvent(
            event_id=event_id or uuid.uuid4().hex,
            model=model,
            model_version=model_version,
            ts=_event_time(ts),
            features=dict(features),
            prediction=dict(prediction) if isinstance(prediction, Mapping) else prediction,
            label=label,
        )
        self._queue(self.settings.predictions_topic, model, event)
        return event.event_id

    def send_label(
        self,
        model: str,
        event_id: str,
        label: float | str | bool,
        *,
        ts: datetime | float | str | None = None,
    ) -> None:
        """Queue the ground truth of the prediction ``event_id``."""
        event = LabelEvent(event_id=event_id, model=model, label=label, ts=_event_time(ts))
        self._queue(self.settings.labels_topic, model, event)

    def send_metric(
        self,
        model: str,
        name: str,
        value: float,
        *,
        model_version: str = "unversioned",
        ts: datetime | float | str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        """Queue one MetricEvent (a latency, a business KPI, an offline accuracy)."""
        event = MetricEvent(
            model=model,
            model_version=model_version,
            name=name,
            value=value,
            tags=dict(tags or {}),
            ts=_event_time(ts),
        )
        self._queue(self.settings.metrics_topic, model, event)

    def _queue(self, topic: str, model: str, event: BaseModel) -> None:
        payload = event.model_dump_json(exclude_none=True).encode()
        with self._wake:
            if self._closing:
                raise RuntimeError("the producer is closed")
            dropped = self._buffer.add(topic, model, payload)
            self.stats.queued += 1
            self.stats.dropped += dropped
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="driftline-producer", daemon=True
                )
                self._thread.start()
            if len(self._buffer) >= self.settings.batch_events:
                self._wake.notify()
        if dropped:
            self.on_error(DeliveryProblem("dropped", dropped, BufferError("buffer full")))

    def _due(self) -> bool:
        if not len(self._buffer):
            return self._closing
        linger = self.settings.linger_ms / 1000
        return (
            self._closing
            or self._flushing
            or len(self._buffer) >= self.settings.batch_events
            or self._buffer.oldest_age() >= linger
        )

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._due():
                    self._wake.wait(timeout=max(self.settings.linger_ms / 1000, 0.001))
                if self._closing and not len(self._buffer):
                    self._wake.notify_all()
                    return
                batches = self._buffer.take()
                self._busy = True
                self._in_flight = sum(len(b.events) for b in batches)
            try:
                unsent = self._send(batches)
            finally:
                with self._wake:
                    self._busy = False
                    self._in_flight = 0
                    self._wake.notify_all()
            if unsent:
                with self._wake:
                    if self._abandoned:
                        return
                    dropped = self._buffer.put_back(unsent)
                    self.stats.dropped += dropped
                    if self._closing:
                        return
                    self._wake.wait(timeout=RETRY_PAUSE)
                if dropped:
                    self.on_error(DeliveryProblem("dropped", dropped, BufferError("buffer full")))

    def _send(self, batches: list[Batch]) -> list[Batch]:
        """Hand batches to kafka-python; return those it could not take."""
        handed = 0
        try:
            if self._kafka is None:
                self._kafka = self._connect()
            for batch in batches:
                future = self._kafka.send(batch.topic, key=batch.key.encode(), value=batch.value)
                count = len(batch.events)
                future.add_callback(self._delivered, count)
                future.add_errback(self._refused, count)
                handed += 1
        except Exception as error:  # Kafka unreachable or saturated: keep the events
            unsent = batches[handed:]
            events = sum(len(b.events) for b in unsent)
            self.on_error(DeliveryProblem("retrying", events, error))
            return unsent
        return []

    def _connect(self) -> Any:
        """kafka-python's producer; a failed TLS handshake is raised as a TLSError."""
        from kafka import KafkaProducer

        config = self.settings.kafka_config()
        try:
            return KafkaProducer(**config)
        except Exception as error:
            problem = tls_problem(self.settings)
            if problem is not None:
                raise problem from error
            raise

    def _delivered(self, count: int, _metadata: Any) -> None:
        with self._wake:
            self.stats.sent += count

    def _refused(self, count: int, error: BaseException) -> None:
        with self._wake:
            dropped = self._abandoned  # unsent when close gave up on them
            if dropped:
                self.stats.dropped += count
            else:
                self.stats.failed += count
        self.on_error(DeliveryProblem("dropped" if dropped else "failed", count, error))

    def flush(self, timeout: float | None = None) -> bool:
        """Send everything queued and wait for Kafka's acknowledgements.

        Returns whether all was delivered within ``timeout`` seconds (None: no limit).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._wake:
            self._flushing = True
            self._wake.notify_all()
            while (len(self._buffer) or self._busy) and self._thread is not None:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    break
                self._wake.wait(timeout=remaining)
            self._flushing = False
            drained = not len(self._buffer)
        if self._kafka is not None:
            remaining = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            try:
                self._kafka.flush(timeout=remaining)
            except Exception:  # kafka-python raises on timeout
                return False
        return drained and self.stats.sent + self.stats.dropped + self.stats.failed >= (
            self.stats.queued
        )

    def close(self, timeout: float | None = 10.0) -> bool:
        """Flush (at most ``timeout`` seconds), then stop; events still unsent are
        dropped and reported. Returns whether everything was delivered."""
        delivered = self.flush(timeout)
        with self._wake:
            self._closing = True
            self._wake.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=RETRY_PAUSE + 1)
        with self._wake:
            lost = len(self._buffer) + self._in_flight
            self._buffer.take()
            self._abandoned = True
            self.stats.dropped += lost
        if lost:
            self.on_error(DeliveryProblem("dropped", lost, TimeoutError("unsent at close")))
        if self._kafka is not None:
            self._close_kafka()
        return delivered and not lost

    def _close_kafka(self) -> None:
        """Close kafka-python's producer at once (``flush`` waited already); the events
        it still holds (Kafka down) are dropped and reported through ``_refused``.

        kafka-python's ``close`` flushes first and raises ``KafkaTimeoutError`` when
        that does not finish, leaving its network thread running and the events in limbo;
        its sender's ``force_close`` fails them instead, which ``close`` then completes.
        """
        from kafka.errors import KafkaTimeoutError

        try:
            self._kafka.close(timeout=0)
        except KafkaTimeoutError:
            sender = self._kafka._sender
            sender.force_close()
            sender.join(timeout=RETRY_PAUSE + 1)
            self._kafka.close(timeout=0)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
