"""Rolling performance of one model version, from its labelled predictions.

Each labelled prediction adds one loss (0/1 error, or absolute error) to hopping count
windows of ``performance.window`` labels. A window degrades when its mean loss exceeds
the baseline's by at least ``performance.min_change`` and by ``performance.z`` standard
errors; the baseline is the labelled reference, or else the first
``performance.baseline_events`` labels. A river detector (ADWIN by default) watches the
loss stream too: when it has seen a change inside a degraded window, that window fires
at once instead of waiting for ``policy.fire_after`` windows.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any, cast

import numpy as np

from monitor.findings import Finding
from monitor.reference.profile import PerformanceBaseline
from monitor.settings import PerformanceSettings
from monitor.stats.loss import Label, Prediction, Task, infer_task, loss
from monitor.stats.window import HoppingWindow
from monitor.types import Detector
from schemas.alerts import AlertKind, Severity

__all__ = ["LossPane", "PerformanceTracker", "Verdict"]


@dataclass
class LossPane:
    """Count, sum and sum of squares of losses over an event-time span; mergeable."""

    count: int = 0
    total: float = 0.0
    squares: float = 0.0
    start: float = math.inf
    end: float = -math.inf
    detections: int = 0

    def add(self, value: float, ts: float) -> None:
        """Add one loss."""
        self.count += 1
        self.total += value
        self.squares += value * value
        self.start = min(self.start, ts)
        self.end = ts

    @property
    def mean(self) -> float:
        """Mean loss."""
        return self.total / self.count if self.count else 0.0

    @property
    def variance(self) -> float:
        """Population variance of the losses."""
        return max(self.squares / self.count - self.mean**2, 0.0) if self.count else 0.0

    def copy(self) -> "LossPane":
        """An independent copy."""
        return LossPane(**vars(self))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state (no infinities: an empty pane has no start or end)."""
        state: dict[str, Any] = vars(self).copy()
        if not self.count:
            state["start"] = state["end"] = None
        return state

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "LossPane":
        """Inverse of :meth:`to_dict`."""
        pane = cls(**data)
        if not pane.count:
            pane.start, pane.end = math.inf, -math.inf
        return pane

    def __iadd__(self, other: "LossPane") -> "LossPane":
        self.count += other.count
        self.total += other.total
        self.squares += other.squares
        self.start = min(self.start, other.start)
        self.end = other.end if other.count else self.end
        self.detections += other.detections
        return self


@dataclass(frozen=True)
class Verdict:
    """A tested performance window and its finding."""

    finding: Finding
    window: LossPane


class PerformanceTracker:
    """Windows of losses of one model version, tested against a baseline.

    Examples
    --------
    >>> tracker = PerformanceTracker(PerformanceSettings(window=100, hop=50, baseline_events=100))
    >>> verdicts = [v for i in range(400)
    ...             for v in tracker.add(0.9, i % 10 != 0 if i < 200 else i % 3 != 0, float(i))]
    >>> [(v.finding.score, v.finding.breached) for v in verdicts]
    [(0.9, False), (0.78, False), (0.67, True), (0.67, True), (0.66, True)]
    """

    def __init__(
        self, settings: PerformanceSettings, baseline: PerformanceBaseline | None = None
    ) -> None:
        self.settings = settings
        self.baseline = baseline
        self.task: Task | None = (
            settings.task if settings.task != "auto" else baseline.task if baseline else None
        )
        self._warmup: list[float] = []  # losses until the baseline is set (bounded)
        self._pane = LossPane()
        self._windows: HoppingWindow[LossPane] = HoppingWindow(settings.window // settings.hop)
        self._detector = _detector(settings.detector)
        self.skipped = 0
        self.last: Verdict | None = None

    def add(self, prediction: Prediction, label: Label, ts: float) -> list[Verdict]:
        """Add one labelled prediction; return the verdicts of windows it completes."""
        return self.add_many([prediction], [label], [ts])

    def add_many(
        self, predictions: Sequence[Prediction], labels: Sequence[Label], ts: Sequence[float]
    ) -> list[Verdict]:
        """:meth:`add` for each labelled prediction in turn: the same verdicts, in order."""
        if not predictions:
            return []
        if self.task is None:
            self.task = infer_task(predictions[0], labels[0])
        verdicts = []
        detector, hop = self._detector, self.settings.hop
        for value, t in zip(map(loss, predictions, labels, repeat(self.task)), ts, strict=True):
            if value is None:
                self.skipped += 1
                continue
            if self.baseline is None:
                self._warm_up(value)
                continue
            pane = self._pane
            pane.add(value, t)
            if detector is not None:
                detector.update(value)
                pane.detections += int(detector.drift_detected)
            if pane.count < hop:
                continue
            window = self._windows.push(pane)
            self._pane = LossPane()
            if window is not None:
                self.last = Verdict(self._test(window, self.baseline), window)
                verdicts.append(self.last)
        return verdicts

    def _warm_up(self, value: float) -> None:
        """Hold a loss until ``baseline_events`` of them make the baseline."""
        self._warmup.append(value)
        if len(self._warmup) >= self.settings.baseline_events:
            assert self.task is not None
            losses = np.array(self._warmup)
            self.baseline = PerformanceBaseline(
                self.task, float(losses.mean()), float(losses.var(ddof=1)), losses.size
            )
            self._warmup = []

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state. The river detector is not part of it: a restored tracker
        starts a fresh one (its window tests are restored exactly)."""
        return {
            "task": self.task,
            "baseline": None if self.baseline is None else vars(self.baseline),
            "warmup": self._warmup,
            "pane": self._pane.to_dict(),
            "panes": [pane.to_dict() for pane in self._windows.panes],
            "skipped": self.skipped,
        }

    @classmethod
    def from_dict(cls, settings: PerformanceSettings, data: dict[str, Any]) -> "PerformanceTracker":
        """Inverse of :meth:`to_dict`."""
        baseline = None if data["baseline"] is None else PerformanceBaseline(**data["baseline"])
        tracker = cls(settings, baseline)
        tracker.task = data["task"]
        tracker._warmup = list(data["warmup"])
        tracker._pane = LossPane.from_dict(data["pane"])
        tracker._windows.panes.extend(LossPane.from_dict(p) for p in data["panes"])
        tracker.skipped = data["skipped"]
        return tracker

    def _test(self, window: LossPane, baseline: PerformanceBaseline) -> Finding:
        standard_error = math.sqrt(
            window.variance / window.count + baseline.loss_var / max(baseline.events, 1)
        )
        if baseline.task == "classification":
            minimum = self.settings.min_change
        else:
            minimum = self.settings.min_change * baseline.loss_mean
        allowed = max(minimum, self.settings.z * standard_error)
        rise = window.mean - baseline.loss_mean
        breached = rise >= allowed
        details: dict[str, float | int | str] = {
            "baseline": round(baseline.value, 6),
            "baseline_events": baseline.events,
            "standard_error": round(standard_error, 6),
            "detector": self.settings.detector,
            "detections": window.detections,
        }
        if baseline.task == "classification":
            score, threshold = 1.0 - window.mean, 1.0 - (baseline.loss_mean + allowed)
        else:
            score, threshold = window.mean, baseline.loss_mean + allowed
            details["rmse"] = round(math.sqrt(window.squares / window.count), 6)
        return Finding(
            kind=AlertKind.PERFORMANCE_DEGRADATION,
            subject=baseline.metric,
            statistic=baseline.metric,
            score=round(score, 6),
            threshold=round(threshold, 6),
            breached=breached,
            severity=Severity.CRITICAL if rise >= 2 * allowed else Severity.WARNING,
            details=details,
            immediate=breached and window.detections > 0,
        )


def _detector(name: str) -> Detector | None:
    # imported here: river.drift imports scipy.stats, 0.4 s of every command's start
    from river import drift

    if name == "adwin":
        return cast(Detector, drift.ADWIN())
    if name == "page_hinkley":
        return cast(Detector, drift.PageHinkley())
    return None
