"""The embedded engine: the processing core on an in-process bus, no broker needed.

Events published on the input topics reach the :class:`~monitor.core.Monitor`; what it
returns (alerts, window summaries, dead letters of events past a cap of ``limits.*``)
is published on the alert, feature-stats and dead-letter topics, where sinks (files,
the terminal view) subscribe.
"""

from collections.abc import Sequence
from typing import Any

from monitor.core import Monitor, Output
from monitor.engine.bus import InMemoryBus
from schemas import topics
from schemas.wire import WireLabel, WireMetric, WirePrediction

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
        self.bus.subscribe(topics.PREDICTIONS, self._on_predictions)
        self.bus.subscribe(topics.LABELS, self._on_labels)
        self.bus.subscribe(topics.METRICS, self._on_metrics)

    def _on_predictions(self, events: Sequence[WirePrediction]) -> None:
        self._emit(self.monitor.process_predictions(events))

    def _on_labels(self, labels: Sequence[WireLabel]) -> None:
        self._emit(self.monitor.process_labels(labels))

    def _on_metrics(self, metrics: Sequence[WireMetric]) -> None:
        self._emit(self.monitor.process_metrics(metrics))

    def _emit(self, out: Output) -> None:
        by_topic: dict[str, list[Any]] = {}
        for alert in out.alerts:
            by_topic.setdefault(alert.topic, []).append(alert)
        for topic, alerts in by_topic.items():
            self.bus.publish(topic, alerts)
        self.bus.publish(topics.FEATURE_STATS, out.stats)
        if out.dead:
            self.bus.publish(topics.DEAD_LETTER, out.dead)
