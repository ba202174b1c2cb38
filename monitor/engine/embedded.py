"""The embedded engine: the processing core on an in-process bus, no broker needed.

Events published on the input topics reach the :class:`~monitor.core.Monitor` (a
replay hands them to :meth:`EmbeddedEngine.process` with the event times it read
already); what it returns (alerts, window summaries, dead letters of events past a cap
of ``limits.*``) is published on the alert, feature-stats and dead-letter topics, where
sinks (files, the terminal view) subscribe. Window summaries are built only when the
feature-stats topic has a subscriber.
"""

from collections.abc import Sequence
from functools import partial
from typing import Any

from monitor.core import Monitor, Output
from monitor.engine.bus import InMemoryBus
from monitor.validate.validator import EventKind
from schemas import topics

__all__ = ["EmbeddedEngine"]


class EmbeddedEngine:
    """Wires a monitor to a bus, topic by topic as the Kafka engine does.

    >>> from monitor.settings import MonitorSettings
    >>> engine = EmbeddedEngine(Monitor(MonitorSettings()))
    >>> engine.bus.publish(topics.PREDICTIONS, [])
    >>> engine.monitor.counters.predictions
    0
    """

    def __init__(self, monitor: Monitor, bus: InMemoryBus | None = None) -> None:
        self.monitor = monitor
        self.bus = bus or InMemoryBus()
        self.bus.subscribe(topics.PREDICTIONS, partial(self.process, "predictions"))
        self.bus.subscribe(topics.LABELS, partial(self.process, "labels"))
        self.bus.subscribe(topics.METRICS, partial(self.process, "metrics"))

    def process(
        self, kind: EventKind, events: Sequence[Any], ts: Sequence[float] | None = None
    ) -> None:
        """Run a micro-batch of one kind of events through the monitor and publish what
        comes out; ``ts``: the events' times, if the caller has them already
        (:func:`~monitor.core.event_times`)."""
        if not events:
            return
        monitor = self.monitor
        if kind == "predictions":
            out = monitor.process_predictions(events, ts=ts)
        elif kind == "labels":
            out = monitor.process_labels(events, ts=ts)
        else:
            out = monitor.process_metrics(events, ts=ts)
        self._emit(out)

    def _emit(self, out: Output) -> None:
        by_topic: dict[str, list[Any]] = {}
        for alert in out.alerts:
            by_topic.setdefault(alert.topic, []).append(alert)
        for topic, alerts in by_topic.items():
            self.bus.publish(topic, alerts)
        if out.windows and self.bus.subscribed(topics.FEATURE_STATS):
            self.bus.publish(topics.FEATURE_STATS, out.stats)
        if out.dead:
            self.bus.publish(topics.DEAD_LETTER, out.dead)
