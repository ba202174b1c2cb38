"""Performance of one model version, from its labelled predictions, metric by metric.

Every metric of ``performance.metrics`` that applies to the model is tracked as a loss
(:mod:`monitor.stats.metrics`) against its own baseline: the labelled reference's, or
else the model's first ``performance.baseline_events`` labels. Each ``performance.hop``
labels close a pane, and every tracked metric gives a finding on the last
``performance.window`` labels (its value there is the finding's score):

- Decomposable metrics (accuracy, log loss, Brier score, MAE, RMSE) are watched by a
  CUSUM on their per-event loss (Page 1954; :mod:`monitor.stats.sequential`): for the
  0/1 error the Bernoulli log-likelihood ratio of an error rate ``min_change`` above the
  baseline's; for continuous losses, clipped at the baseline's 99.9th percentile,
  Bennett-bounded increments for a mean ``min_change`` above the baseline's. The
  baseline's mean (and variance) are taken at their upper confidence bounds
  (``baseline_z`` standard errors), and the tests share ``false_alarm_labels``: each
  threshold is ``ln(false_alarm_labels x tests)`` (Lorden's bound ``ARL0 >= e^h``). A
  finding is breached while its CUSUM is alarmed, and fires at once.
- Window metrics (ROC AUC, per-class precision, recall and F1), and every metric with
  ``detector = "none"``, are tested on full windows: breached when the loss rose by
  ``min_change`` of the baseline's and by ``z`` standard errors of the difference.
"""

import copy
import math
import operator
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import reduce
from typing import Any, Literal, cast

import numpy as np

from monitor.findings import Finding
from monitor.reference.profile import PerformanceBaseline
from monitor.settings import PerformanceSettings
from monitor.stats.loss import Label, Prediction, Task, infer_task
from monitor.stats.metrics import (
    CLASS_METRICS,
    DECOMPOSABLE,
    Metric,
    binary_scores,
    confusion,
    event_losses,
    window_metrics,
)
from monitor.stats.sequential import (
    Cusum,
    bennett_increments,
    bernoulli_increments,
    log_threshold,
)
from schemas.alerts import AlertKind, Severity

__all__ = ["LossPane", "PerformanceTracker", "Verdict"]

Source = Literal["reference", "labels"]


@dataclass
class LossPane:
    """Sums of per-event losses, binary scores and confusion counts over an event-time
    span; mergeable."""

    count: int = 0
    start: float = math.inf
    end: float = -math.inf
    sums: dict[str, float] = field(default_factory=dict)
    squares: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    scores: list[float] = field(default_factory=list)
    positives: list[bool] = field(default_factory=list)
    confusion: dict[str, list[int]] = field(default_factory=dict)
    detections: dict[str, int] = field(default_factory=dict)

    def mean(self, metric: str) -> float:
        """Mean loss of a decomposable metric (NaN without events)."""
        n = self.counts.get(metric, 0)
        return self.sums[metric] / n if n else math.nan

    def variance(self, metric: str) -> float:
        """Population variance of a decomposable metric's losses."""
        n = self.counts.get(metric, 0)
        return max(self.squares[metric] / n - self.mean(metric) ** 2, 0.0) if n else math.nan

    def copy(self) -> "LossPane":
        """An independent copy."""
        return LossPane(
            self.count,
            self.start,
            self.end,
            dict(self.sums),
            dict(self.squares),
            dict(self.counts),
            list(self.scores),
            list(self.positives),
            {name: list(counts) for name, counts in self.confusion.items()},
            dict(self.detections),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state (no infinities: an empty pane has no start or end)."""
        state = asdict(self)
        if not self.count:
            state["start"] = state["end"] = None
        return state

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "LossPane":
        """Inverse of :meth:`to_dict`."""
        pane = cls(**copy.deepcopy(data))
        if not pane.count:
            pane.start, pane.end = math.inf, -math.inf
        return pane

    def __iadd__(self, other: "LossPane") -> "LossPane":
        self.count += other.count
        self.start = min(self.start, other.start)
        self.end = other.end if other.count else self.end
        _add_into(self.sums, other.sums)
        _add_into(self.squares, other.squares)
        _add_into(self.counts, other.counts)
        _add_into(self.detections, other.detections)
        self.scores += other.scores
        self.positives += other.positives
        for name, (tp, fp, fn) in other.confusion.items():
            counts = self.confusion.setdefault(name, [0, 0, 0])
            counts[0] += tp
            counts[1] += fp
            counts[2] += fn
        return self


@dataclass(frozen=True)
class Verdict:
    """The findings on one performance window, and where each one's baseline came from."""

    findings: list[Finding]
    window: LossPane
    sources: dict[str, Source]
    """Subject -> ``reference`` (the labelled reference) or ``labels`` (first labels)."""

    def finding(self, subject: str) -> Finding:
        """The finding on ``subject``."""
        return next(f for f in self.findings if f.subject == subject)


class PerformanceTracker:
    """Losses of one model version, tested metric by metric against their baselines.

    Examples
    --------
    >>> settings = PerformanceSettings(window=400, hop=200, baseline_events=400)
    >>> tracker = PerformanceTracker(settings)
    >>> right = [i % 10 != 0 for i in range(1400)] + [i % 4 != 0 for i in range(1200)]
    >>> verdicts = [v for i, r in enumerate(right) for v in tracker.add(0.9, r, float(i))]
    >>> [(v.finding("accuracy").score, v.finding("accuracy").breached) for v in verdicts][3:9]
    [(0.9, False), (0.9, False), (0.825, False), (0.75, False), (0.75, True), (0.75, True)]
    """

    def __init__(
        self, settings: PerformanceSettings, baseline: PerformanceBaseline | None = None
    ) -> None:
        self.settings = settings
        self.task: Task | None = (
            settings.task if settings.task != "auto" else baseline.task if baseline else None
        )
        self.baseline: PerformanceBaseline | None = None
        self.source: Source = "reference"
        self.cusums: dict[str, Cusum] = {}
        self._warmup: list[tuple[Prediction, Label]] = []  # first labels, without a reference
        self._pane = LossPane()
        self._panes: deque[LossPane] = deque(maxlen=settings.window // settings.hop)
        self.skipped = 0
        self.last: Verdict | None = None
        if baseline is not None:
            self._start(baseline, "reference")

    @property
    def subjects(self) -> list[str]:
        """The tracked subjects: the selected metrics its baseline has, in order."""
        if self.baseline is None:
            return []
        losses = self.baseline.losses()
        selected = set(self.settings.metrics)
        return [s for s in losses if s.split(":")[0] in selected]

    def _start(self, baseline: PerformanceBaseline, source: Source) -> None:
        self.baseline, self.source = baseline, source
        if self.task is None:
            self.task = baseline.task
        if self.settings.detector == "cusum":
            sequential = [s for s in self.subjects if s in DECOMPOSABLE]
            threshold = log_threshold(self.settings.false_alarm_labels * max(len(sequential), 1))
            self.cusums = {s: Cusum(threshold) for s in sequential}

    def _design(self, subject: str) -> tuple[float, float, float]:
        """The sequential test's baseline: mean and variance of the clipped loss at their
        upper confidence bounds, and the clipping bound."""
        assert self.baseline is not None
        base = self.baseline.losses()[subject]
        mean = base.loss if base.clipped_loss is None else base.clipped_loss
        variance = base.variance if base.clipped_variance is None else base.clipped_variance
        events, z = max(base.events, 1), self.settings.baseline_z
        mean += z * math.sqrt(variance / events)
        if subject == "accuracy":
            return min(max(mean, 0.5 / events), 0.5), 0.0, 1.0
        variance *= 1 + z * math.sqrt(2 / events)
        return mean, max(variance, 1e-12), max(base.bound, 1e-12)

    def _rise(self, subject: str) -> float:
        """The loss's alerted rise factor: RMSE's change is ``min_change`` of the RMSE."""
        factor = 1.0 + self.settings.min_change
        return factor * factor if subject == "rmse" else factor

    def _increments(self, subject: str, losses: np.ndarray) -> np.ndarray:
        mean, variance, bound = self._design(subject)
        if subject == "accuracy":
            return bernoulli_increments(losses, mean, min(mean * self._rise(subject), 0.999))
        change = mean * (self._rise(subject) - 1)
        return bennett_increments(losses, mean, variance, bound, change)

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
        verdicts: list[Verdict] = []
        i = 0
        while i < len(predictions):
            if self.baseline is None:
                i = self._warm_up(predictions, labels, i)
                continue
            j = min(len(predictions), i + self.settings.hop - self._pane.count)
            self._add_chunk(predictions[i:j], labels[i:j], ts[i:j])
            i = j
            if self._pane.count >= self.settings.hop:
                verdicts.append(self._close_pane())
        return verdicts

    def _warm_up(self, predictions: Sequence[Prediction], labels: Sequence[Label], i: int) -> int:
        """Hold labelled predictions from ``i`` until ``baseline_events`` of them make the
        baseline; return the index of the first one not taken."""
        j = min(len(predictions), i + self.settings.baseline_events - len(self._warmup))
        self._count_skipped(predictions[i:j], labels[i:j])
        self._warmup += zip(predictions[i:j], labels[i:j], strict=True)
        if len(self._warmup) >= self.settings.baseline_events:
            first, values = zip(*self._warmup, strict=True)
            baseline = PerformanceBaseline.from_labels(first, values, self.task)
            self._warmup = []
            if baseline is None:  # no metric applies to these: skip them, try the next
                self.skipped += self.settings.baseline_events
            else:
                self._start(baseline, "labels")
        return j

    def _add_chunk(
        self, predictions: Sequence[Prediction], labels: Sequence[Label], ts: Sequence[float]
    ) -> None:
        pane, subjects = self._pane, self.subjects
        pane.count += len(predictions)
        pane.start = min(pane.start, ts[0])
        pane.end = ts[-1]
        main = self._count_skipped(predictions, labels)
        for metric in (s for s in subjects if s in DECOMPOSABLE):
            losses = main[1] if metric == main[0] else event_losses(metric, predictions, labels)
            losses = losses[~np.isnan(losses)]
            pane.sums[metric] = pane.sums.get(metric, 0.0) + float(losses.sum())
            pane.squares[metric] = pane.squares.get(metric, 0.0) + float(losses @ losses)
            pane.counts[metric] = pane.counts.get(metric, 0) + losses.size
            cusum = self.cusums.get(metric)
            if cusum is not None:
                before = cusum.detections
                cusum.update(self._increments(metric, losses))
                if cusum.detections > before:
                    pane.detections[metric] = pane.detections.get(metric, 0) + 1
        if "roc_auc" in subjects:
            scores, positives = binary_scores(predictions, labels)
            pane.scores += scores.tolist()
            pane.positives += positives.tolist()
        if any(s.split(":")[0] in CLASS_METRICS for s in subjects):
            for name, (tp, fp, fn) in confusion(predictions, labels).items():
                counts = pane.confusion.setdefault(name, [0, 0, 0])
                counts[0] += tp
                counts[1] += fp
                counts[2] += fn

    def _count_skipped(
        self, predictions: Sequence[Prediction], labels: Sequence[Label]
    ) -> tuple[Metric, np.ndarray]:
        """Count the labels with no accuracy (a regressor's: MAE); return its losses."""
        metric: Metric = "accuracy" if self.task == "classification" else "mae"
        losses = event_losses(metric, predictions, labels)
        self.skipped += int(np.isnan(losses).sum())
        return metric, losses

    def _close_pane(self) -> Verdict:
        pane = self._pane
        alarmed = {metric for metric, cusum in self.cusums.items() if cusum.alarmed}
        for cusum in self.cusums.values():
            cusum.settle()
        self._panes.append(pane)
        self._pane = LossPane()
        window = reduce(operator.iadd, list(self._panes)[1:], self._panes[0].copy())
        full = len(self._panes) == self._panes.maxlen
        findings = [
            f for s in self.subjects if (f := self._finding(s, window, full, alarmed)) is not None
        ]
        self.last = Verdict(findings, window, dict.fromkeys(self.subjects, self.source))
        return self.last

    def _finding(
        self, subject: str, window: LossPane, full: bool, alarmed: set[str]
    ) -> Finding | None:
        assert self.baseline is not None
        metric = subject.split(":")[0]
        base, base_variance, base_events, *_ = self.baseline.losses()[subject]
        base_se = math.sqrt(base_variance / max(base_events, 1))
        if subject in DECOMPOSABLE:
            if not window.counts.get(subject):
                return None
            current = window.mean(subject)
            se = math.sqrt(window.variance(subject) / window.counts[subject])
            events = window.counts[subject]
        else:
            found = window_metrics(
                np.array(window.scores),
                np.array(window.positives, dtype=bool),
                window.confusion,
                [cast(Metric, metric)],
            ).get(subject)
            if found is None:
                return None
            current, se, events = found
        details: dict[str, float | int | str] = {
            "baseline": round(_value(subject, base), 6),
            "baseline_events": base_events,
            "window_events": events,
        }
        cusum = self.cusums.get(subject)
        allowed = base * (self._rise(subject) - 1)
        if cusum is not None:
            allowed = self._design(subject)[0] * self._rise(subject) - base
            breached = subject in alarmed
            immediate = breached
            details |= {
                "detector": "cusum",
                "cusum": round(cusum.statistic, 6),
                "cusum_threshold": round(cusum.threshold, 6),
            }
        elif not full:
            return None
        else:
            spread = math.sqrt(se * se + base_se * base_se)
            allowed = max(allowed, self.settings.z * spread)
            breached = current - base >= allowed and current > base
            immediate = False
            details["standard_error"] = round(spread, 6)
        rise = current - base
        return Finding(
            kind=AlertKind.PERFORMANCE_DEGRADATION,
            subject=subject,
            statistic=metric,
            score=round(_value(subject, current), 6),
            threshold=round(_value(subject, base + allowed), 6),
            breached=breached,
            severity=Severity.CRITICAL if rise >= 2 * allowed else Severity.WARNING,
            details=details,
            immediate=immediate,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state, the CUSUMs' included (a restored tracker goes on exactly)."""
        return {
            "task": self.task,
            "baseline": None if self.baseline is None else vars(self.baseline),
            "source": self.source,
            "cusums": {k: c.to_dict() for k, c in self.cusums.items()},
            "warmup": [list(pair) for pair in self._warmup],
            "pane": self._pane.to_dict(),
            "panes": [pane.to_dict() for pane in self._panes],
            "skipped": self.skipped,
        }

    @classmethod
    def from_dict(
        cls,
        settings: PerformanceSettings,
        data: dict[str, Any],
        reference: PerformanceBaseline | None = None,
    ) -> "PerformanceTracker":
        """Inverse of :meth:`to_dict`. A state saved before the CUSUMs (no ``cusums``)
        cannot go on: the tracker starts afresh against ``reference``, the model's
        labelled reference if any (else its first labels again)."""
        if "cusums" not in data:
            return cls(settings, reference)
        tracker = cls(settings)
        tracker.task = data["task"]
        if data["baseline"] is not None:
            tracker.baseline = PerformanceBaseline(**data["baseline"])
            tracker.source = data["source"]
        tracker.cusums = {k: Cusum.from_dict(c) for k, c in data["cusums"].items()}
        tracker._warmup = [(p, y) for p, y in data["warmup"]]
        tracker._pane = LossPane.from_dict(data["pane"])
        tracker._panes.extend(LossPane.from_dict(p) for p in data["panes"])
        tracker.skipped = data["skipped"]
        return tracker


def _add_into(mine: dict[str, Any], theirs: dict[str, Any]) -> None:
    for key, value in theirs.items():
        mine[key] = mine.get(key, 0) + value


def _value(subject: str, loss: float) -> float:
    """A metric's value from its loss: ``1 - loss`` for accuracy, ROC AUC and the
    per-class metrics, the root of the squared error for RMSE, else the loss."""
    if subject == "rmse":
        return math.sqrt(max(loss, 0.0))
    if subject in DECOMPOSABLE and subject != "accuracy":
        return loss
    return 1.0 - loss
