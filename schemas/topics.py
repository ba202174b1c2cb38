"""Kafka topic names: a public contract (docs/architecture.md, "Public contracts")."""

from typing import Final

__all__ = [
    "ALL_TOPICS",
    "DEAD_LETTER",
    "DEGRADATION_ALERTS",
    "DRIFT_ALERTS",
    "FEATURE_STATS",
    "INPUT_TOPICS",
    "LABELS",
    "METRICS",
    "PREDICTIONS",
]

PREDICTIONS: Final = "driftline.predictions"
LABELS: Final = "driftline.labels"
METRICS: Final = "driftline.metrics"
DRIFT_ALERTS: Final = "driftline.drift-alerts"
DEGRADATION_ALERTS: Final = "driftline.degradation-alerts"
FEATURE_STATS: Final = "driftline.feature-stats"
DEAD_LETTER: Final = "driftline.dead-letter"

INPUT_TOPICS: Final = (PREDICTIONS, LABELS, METRICS)
ALL_TOPICS: Final = (
    PREDICTIONS,
    LABELS,
    METRICS,
    DRIFT_ALERTS,
    DEGRADATION_ALERTS,
    FEATURE_STATS,
    DEAD_LETTER,
)
