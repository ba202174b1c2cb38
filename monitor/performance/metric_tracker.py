"""Degradation of metrics computed elsewhere and sent as MetricEvents.

Per model, version and metric name, the first ``metrics.baseline`` values set the
baseline (their mean and sample variance); from then on every value closes a window
of the last ``metrics.window`` values, which degrades when its mean moved, either way,
by at least ``metrics.relative_change`` of the baseline and by ``metrics.z`` standard
errors. The direction is not assumed: latency going up and accuracy going down both
matter, and so do sudden improvements that often mean a broken pipeline.
"""

import math
from collections import deque
from typing import Any

import numpy as np

from monitor.findings import Finding
from monitor.settings import MetricSettings
from schemas.alerts import AlertKind, Severity

__all__ = ["MetricTracker"]


class MetricTracker:
    """One metric of one model version.

    >>> tracker = MetricTracker("latency_ms", MetricSettings(baseline=10, window=5))
    >>> values = [10.0, 11.0] * 5 + [10.5] * 5 + [30.0] * 5
    >>> findings = [tracker.add(v, ts=float(i)) for i, v in enumerate(values)]
    >>> [f.breached for f in findings if f is not None]
    [False, True, True, True, True, True]
    """

    def __init__(self, name: str, settings: MetricSettings) -> None:
        self.name = name
        self.settings = settings
        self.baseline: list[float] = []  # the first values, until there are enough
        self.recent: deque[tuple[float, float]] = deque(maxlen=settings.window)

    @property
    def start(self) -> float:
        """Event time of the oldest value in the window."""
        return self.recent[0][1]

    def add(self, value: float, ts: float) -> Finding | None:
        """Add one value at event time ``ts``; return the finding of the window it closes."""
        if len(self.baseline) < self.settings.baseline:
            self.baseline.append(value)
            return None
        self.recent.append((value, ts))
        if len(self.recent) < self.settings.window:
            return None
        mean = sum(v for v, _ in self.recent) / len(self.recent)
        base = float(np.mean(self.baseline))
        variance = float(np.var(self.baseline, ddof=1))
        spread = math.sqrt(variance * (1 / len(self.recent) + 1 / len(self.baseline)))
        allowed = max(self.settings.relative_change * abs(base), self.settings.z * spread)
        change = abs(mean - base)
        return Finding(
            kind=AlertKind.METRIC_DEGRADATION,
            subject=self.name,
            statistic="mean_shift",
            score=round(mean, 6),
            threshold=round(base + math.copysign(allowed, mean - base), 6),
            # a baseline that never varied (an error count stuck at 0) breaks on any change
            breached=change >= allowed and change > 0,
            severity=Severity.CRITICAL if change >= 2 * allowed else Severity.WARNING,
            details={"baseline": round(base, 6), "baseline_values": len(self.baseline)},
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state."""
        return {"baseline": self.baseline, "recent": [list(item) for item in self.recent]}

    @classmethod
    def from_dict(
        cls, name: str, settings: MetricSettings, data: dict[str, Any]
    ) -> "MetricTracker":
        """Inverse of :meth:`to_dict`."""
        tracker = cls(name, settings)
        tracker.baseline = list(data["baseline"])
        tracker.recent.extend((value, ts) for value, ts in data["recent"])
        return tracker
