"""Pydantic model of the drift and degradation alerts driftline publishes."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from schemas.topics import DEGRADATION_ALERTS, DRIFT_ALERTS

__all__ = [
    "DEGRADATION_KINDS",
    "Alert",
    "AlertKind",
    "AlertReference",
    "AlertStatus",
    "AlertWindow",
    "Severity",
]


class AlertKind(StrEnum):
    """What an alert is about."""

    FEATURE_DRIFT = "feature_drift"
    PREDICTION_DRIFT = "prediction_drift"
    MULTIVARIATE_DRIFT = "multivariate_drift"
    DATA_QUALITY = "data_quality"
    PERFORMANCE_DEGRADATION = "performance_degradation"
    ESTIMATED_PERFORMANCE_DEGRADATION = "estimated_performance_degradation"
    METRIC_DEGRADATION = "metric_degradation"


DEGRADATION_KINDS = frozenset(
    {
        AlertKind.PERFORMANCE_DEGRADATION,
        AlertKind.ESTIMATED_PERFORMANCE_DEGRADATION,
        AlertKind.METRIC_DEGRADATION,
    }
)
"""Kinds published on ``driftline.degradation-alerts``; the rest go to drift-alerts."""


class AlertStatus(StrEnum):
    """Where an alert episode stands: one ``firing`` alert opens it, ``resolved`` ends it."""

    FIRING = "firing"
    RESOLVED = "resolved"


class Severity(StrEnum):
    """How far past its threshold the subject was when the alert was raised."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class AlertWindow(BaseModel):
    """The window of events an alert was computed on (event time)."""

    model_config = ConfigDict(frozen=True)

    start: datetime
    end: datetime = Field(description="Event time of the last event in the window.")
    events: int = Field(ge=0)


class AlertReference(BaseModel):
    """The reference the window was tested against."""

    model_config = ConfigDict(frozen=True)

    id: str
    events: int = Field(ge=0)


class Alert(BaseModel):
    """A drift or degradation alert, as published on the alert topics.

    Examples
    --------
    >>> alert = Alert(
    ...     alert_id="c2b1", kind="feature_drift", status="firing", severity="warning",
    ...     model="fraud-scorer", model_version="3", subject="amount", statistic="psi",
    ...     score=0.31, threshold=0.2, p_value=None,
    ...     window={"start": "2026-11-27T10:00:00Z", "end": "2026-11-27T10:16:40Z",
    ...             "events": 1000},
    ...     reference={"id": "fraud-scorer/3/ref-2026-11-01", "events": 50000},
    ...     detected_at="2026-11-27T10:16:41Z",
    ... )
    >>> alert.model_dump_json()[:60]
    '{"alert_id":"c2b1","kind":"feature_drift","status":"firing",'
    >>> alert.topic
    'driftline.drift-alerts'
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    alert_id: str
    kind: AlertKind
    status: AlertStatus
    severity: Severity
    model: str
    model_version: str
    subject: str = Field(description='Feature name, "prediction", "*" or the metric name.')
    statistic: str
    score: float
    threshold: float
    p_value: float | None = None
    window: AlertWindow
    reference: AlertReference
    detected_at: datetime
    details: dict[str, Any] = Field(default_factory=dict)

    @property
    def topic(self) -> str:
        """The topic this alert is published on."""
        return DEGRADATION_ALERTS if self.kind in DEGRADATION_KINDS else DRIFT_ALERTS
