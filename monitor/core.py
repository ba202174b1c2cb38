"""The processing core: events in, alerts, window summaries and dead letters out.

:class:`Monitor` knows nothing of Kafka or Faust: an engine decodes events, hands them
over in micro-batches, and publishes what comes back. Both engines run this class, so
the same events give the same alerts on either. Events past a cap of ``limits.*`` (see
:mod:`monitor.limits`) come back as dead letters, which engines publish with the
validator's.

Times inside the core are floats, seconds since the epoch (UTC): :func:`event_times`
converts each event's time once, on its way in (an engine that needs the times itself
converts them with it and hands them over), and datetimes are made only in the public
models on the way out (:class:`~schemas.alerts.Alert` by the alert policy,
:class:`~schemas.stats.FeatureStats` here, and only when someone reads them).
"""

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

import msgspec
import numpy as np

from monitor.alerting.policy import AlertPolicy, Span
from monitor.findings import Finding
from monitor.limits import Limits
from monitor.model_monitor import ModelMonitor, TestedWindow
from monitor.performance.early import EarlyLabels
from monitor.performance.join import LabelJoin, Pending
from monitor.performance.metric_tracker import MetricTracker
from monitor.performance.tracker import PerformanceTracker, Verdict
from monitor.reference.profile import ReferenceSet
from monitor.settings import MonitorSettings
from monitor.stats.columns import ColumnSummary
from monitor.stats.loss import Label, Prediction
from monitor.types import Clock, EventTimeClock
from schemas import topics
from schemas.alerts import Alert, AlertKind, AlertReference
from schemas.dead_letter import DeadLetter
from schemas.stats import ColumnStats, FeatureStats, LabelJoinStats, LimitCounts
from schemas.wire import WireLabel, WireMetric, WirePrediction

__all__ = ["ClosedWindow", "Counters", "Monitor", "Output", "event_times"]

_TOPICS = {"predictions": topics.PREDICTIONS, "labels": topics.LABELS, "metrics": topics.METRICS}


def event_times(events: Sequence[WirePrediction | WireLabel | WireMetric]) -> list[float]:
    """The events' times in seconds since the epoch: the one conversion of a decoded
    event time (an aware datetime from RFC 3339, or epoch seconds) into the core's.

    >>> from datetime import UTC, datetime, timedelta, timezone
    >>> noon_in_delhi = datetime(2026, 11, 27, 15, 30, 0, 250, timezone(timedelta(hours=5.5)))
    >>> event_times([WireLabel("a", "m", noon_in_delhi, True), WireLabel("b", "m", 5.0, True)])
    [1795773600.00025, 5.0]
    """
    return [e.ts.timestamp() if isinstance(e.ts, datetime) else e.ts for e in events]


@dataclass(eq=False)
class ClosedWindow:
    """A closed window of one model version as the core saw it, for its summary on the
    feature-stats topic: :attr:`stats` builds the :class:`~schemas.stats.FeatureStats`
    when it is first read, so a run that publishes no summaries builds none.

    >>> monitor = Monitor(MonitorSettings(reference={"warmup_events": 100},
    ...                                   window={"size": 100, "hop": 100}))
    >>> out = monitor.process_predictions(
    ...     [WirePrediction(str(i), "m", 60.0 * i, {"x": 1.0}) for i in range(200)])
    >>> closed = out.windows[0]
    >>> closed.tested.summary.end, "stats" in vars(closed)  # seconds; no summary yet
    (11940.0, False)
    >>> closed.stats.window.end.isoformat(), closed.stats is out.stats[0]
    ('1970-01-01T03:19:00+00:00', True)
    """

    model: str
    model_version: str
    tested: TestedWindow
    reference: AlertReference
    limits: dict[str, int]
    label_join: dict[str, int] | None = None
    """The model's label join counts as of the end of the batch that closed it."""

    @cached_property
    def stats(self) -> FeatureStats:
        """The window's summary (built once)."""
        return _feature_stats(self)


@dataclass(eq=False)
class Output:
    """What a batch produced: alerts to publish, closed windows (whose summaries
    :attr:`stats` builds on demand), and dead letters for events refused by a cap of
    ``limits.*``. Outputs are equal when their alerts, summaries and dead letters are."""

    alerts: list[Alert] = field(default_factory=list)
    windows: list[ClosedWindow] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)

    @property
    def stats(self) -> list[FeatureStats]:
        """The summary of every closed window, in order."""
        return [window.stats for window in self.windows]

    def __iadd__(self, other: "Output") -> "Output":
        self.alerts += other.alerts
        self.windows += other.windows
        self.dead += other.dead
        return self

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Output):
            return NotImplemented
        mine, theirs = (self.alerts, self.stats, self.dead), (other.alerts, other.stats, other.dead)
        return mine == theirs


@dataclass
class Counters:
    """Running totals, for summaries and metrics: events applied, and events refused by
    kind and problem (``predictions.model_limit``, ...)."""

    predictions: int = 0
    labels: int = 0
    metrics: int = 0
    windows: int = 0
    alerts: int = 0
    refused: Counter[str] = field(default_factory=Counter)


class Monitor:
    """Every model's windows, the label join, metric trackers and the alert policy.

    Examples
    --------
    >>> monitor = Monitor(MonitorSettings(reference={"warmup_events": 100},
    ...                                   window={"size": 100, "hop": 100}))
    >>> events = [WirePrediction(str(i), "m", float(i), {"x": float(i % 7)})
    ...           for i in range(300)]
    >>> out = monitor.process_predictions(events)
    >>> out.alerts, [s.window.events for s in out.stats]
    ([], [100, 100])

    Past a cap of ``limits``, events are refused, with a dead letter each:

    >>> capped = Monitor(MonitorSettings(limits={"max_models": 1}))
    >>> out = capped.process_predictions(
    ...     [WirePrediction("a", "m", 0.0, {}), WirePrediction("b", "other", 0.0, {})])
    >>> [(d.source, d.reason) for d in out.dead]
    [('driftline.predictions', "model_limit: 'other' would be model 2 of this process, over
    limits.max_models (1)")]
    >>> capped.counters.predictions, dict(capped.counters.refused)
    (1, {'predictions.model_limit': 1})
    """

    def __init__(
        self,
        settings: MonitorSettings,
        references: ReferenceSet | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        self.references = references or ReferenceSet([])
        self.clock: Clock = clock or EventTimeClock()
        self.models: dict[tuple[str, str], ModelMonitor] = {}
        self.performance: dict[tuple[str, str], PerformanceTracker] = {}
        self.metric_trackers: dict[tuple[str, str, str], MetricTracker] = {}
        self.join = LabelJoin(settings.performance.label_ttl, settings.performance.max_pending)
        self.early: dict[str, EarlyLabels] = {}  # model -> labels that came before predictions
        self.labels_matched: Counter[str] = Counter()  # model -> labels joined
        self.policy = AlertPolicy(settings.policy)
        self.limits = Limits(settings.limits)
        self.counters = Counters()

    def _model(self, model: str, model_version: str) -> ModelMonitor:
        profile = self.references.find(model, model_version)
        monitor = ModelMonitor(model, model_version, profile, self.settings)
        self.models[(model, model_version)] = monitor
        return monitor

    def _refuse(
        self,
        kind: str,
        events: Sequence[Any],
        indices: list[int],
        reason: str,
        sources: Sequence[str] | None,
    ) -> list[DeadLetter]:
        """Dead letters for ``events[i]``, ``i`` in ``indices``, refused for ``reason``."""
        problem = reason.partition(":")[0]
        self.counters.refused[f"{kind}.{problem}"] += len(indices)
        self.limits.refuse(events[indices[0]].model, problem, len(indices), reason)
        topic = _TOPICS[kind]
        return [
            DeadLetter.of(
                msgspec.json.encode(events[i]), topic if sources is None else sources[i], reason
            )
            for i in indices
        ]

    def export_model(self, model: str) -> dict[str, Any]:
        """JSON-ready state of one model, every version: its windows, references built
        from its own first events, performance and metric trackers, open alert episodes,
        labels held for a prediction not seen yet and the label join's counts.

        Predictions waiting for labels are not part of it (an engine keeps them by event
        id).
        """
        early = self.early.get(model)
        versions = self.limits.versions(model)
        keys = [(model, version) for version in versions]
        return {
            "monitors": [self.models[k].to_dict() for k in keys if k in self.models],
            "performance": [
                [k[1], self.performance[k].to_dict()] for k in keys if k in self.performance
            ],
            "metrics": [
                [version, metric, self.metric_trackers[(model, version, metric)].to_dict()]
                for version in versions
                for metric in self.limits.metrics(model, version)
            ],
            "episodes": [e for e in self.policy.to_dict() if e["key"][0] == model],
            "labels": {
                "matched": self.labels_matched[model],
                "early": None if early is None else early.to_dict(),
                "predictions_expired": self.join.expired[model],
                "predictions_evicted": self.join.evicted[model],
            },
            "limits": self.limits.to_dict(model),
        }

    def import_model(self, model: str, data: dict[str, Any]) -> None:
        """Go on from a state saved by :meth:`export_model` (replacing this model's).

        The model is held whatever ``limits.*`` say: some monitor held it before.
        """
        for version in self.limits.versions(model):
            self.models.pop((model, version), None)
            self.performance.pop((model, version), None)
            for metric in self.limits.metrics(model, version):
                del self.metric_trackers[(model, version, metric)]
        for state in data["monitors"]:
            monitor = ModelMonitor.from_dict(state, self.settings, self.references)
            self.models[(monitor.model, monitor.model_version)] = monitor
        for version, state in data["performance"]:
            profile = self.references.find(model, version)
            self.performance[(model, version)] = PerformanceTracker.from_dict(
                self.settings.performance, state, None if profile is None else profile.performance
            )
        for version, metric, state in data["metrics"]:
            self.metric_trackers[(model, version, metric)] = MetricTracker.from_dict(
                metric, self.settings.metrics, state
            )
        others = [e for e in self.policy.to_dict() if e["key"][0] != model]
        self.policy.load(others + data["episodes"])
        labels = data.get("labels") or {}  # absent from checkpoints of older versions
        self.early.pop(model, None)
        if labels.get("early") is not None:
            self.early[model] = EarlyLabels.from_dict(
                model,
                self.settings.performance.early_label_ttl,
                self.settings.performance.max_early_labels,
                labels["early"],
            )
        for counts, key in (
            (self.labels_matched, "matched"),
            (self.join.expired, "predictions_expired"),
            (self.join.evicted, "predictions_evicted"),
        ):
            counts.pop(model, None)
            if labels.get(key):
                counts[model] = labels[key]

        self.limits.load(
            model,
            [state["model_version"] for state in data["monitors"]]
            + [version for version, _ in data["performance"]],
            [(version, metric) for version, metric, _ in data["metrics"]],
            data.get("limits"),  # absent from checkpoints older than the limits
        )

    def label_join(self, model: str) -> LabelJoinStats:
        """How ``model``'s labels met its predictions so far."""
        return LabelJoinStats(**self._label_counts(model))

    def _label_counts(self, model: str) -> dict[str, int]:
        early = self.early.get(model)
        return {
            "labels_matched": self.labels_matched[model],
            "labels_held": 0 if early is None else len(early),
            "labels_expired": 0 if early is None else early.expired,
            "labels_evicted": 0 if early is None else early.evicted,
            "predictions_expired": self.join.expired[model],
            "predictions_evicted": self.join.evicted[model],
        }

    def label_joins(self) -> dict[str, LabelJoinStats]:
        """:meth:`label_join` of every model that had labels, or predictions dropped
        unlabelled, by model name."""
        models = set(self.early) | set(self.labels_matched)
        models |= set(self.join.expired) | set(self.join.evicted)
        return {model: self.label_join(model) for model in sorted(models)}

    def _tracker(self, model: str, model_version: str) -> PerformanceTracker:
        key = (model, model_version)
        tracker = self.performance.get(key)
        if tracker is None:
            profile = self.references.find(model, model_version)
            baseline = None if profile is None else profile.performance
            tracker = self.performance[key] = PerformanceTracker(
                self.settings.performance, baseline
            )
        return tracker

    def process_predictions(
        self,
        events: Sequence[WirePrediction],
        sources: Sequence[str] | None = None,
        ts: Sequence[float] | None = None,
    ) -> Output:
        """Add a micro-batch of predictions (any models, in event order).

        ``sources``, one per event, name where each came from in its dead letter if it
        is refused (default: the predictions topic). ``ts``, one per event, are their
        :func:`event_times` if the caller has them already.
        """
        out = Output()
        if not events:
            return out
        ts = event_times(events) if ts is None else list(ts)
        groups: dict[tuple[str, str], tuple[list[WirePrediction], list[float]]] = {}
        for event, t in zip(events, ts, strict=True):
            key = (event.model, event.model_version)
            group = groups.get(key)
            if group is None:
                group = groups[key] = ([], [])
            group[0].append(event)
            group[1].append(t)
        refused: dict[tuple[str, str], str] = {}
        for key, (group_events, group_ts) in groups.items():
            monitor = self.models.get(key)
            if monitor is None:
                reason = self.limits.admit(*key)
                if reason is not None:
                    refused[key] = reason
                    continue
                monitor = self._model(*key)
            for tested in monitor.add(group_events, group_ts):
                out += self._publish_window(key[0], key[1], tested)
        if refused:
            events, ts, out.dead = self._refused_predictions(events, ts, refused, sources)
            if not events:
                return out
        self.counters.predictions += len(events)
        out += self._track_labels(events, ts)
        if self.early:
            out += self._release(groups)
        if out.windows:
            joins = {model: self._label_counts(model) for model in {w.model for w in out.windows}}
            for window in out.windows:
                window.label_join = joins[window.model]
        return out

    def _release(
        self, groups: dict[tuple[str, str], tuple[list[WirePrediction], list[float]]]
    ) -> Output:
        """Join held labels to the predictions that just came, as if the labels came
        right after them; then expire held labels on the models' latest event time."""
        waiting = self.join.get
        found: dict[str, list[str]] = {}  # model -> event ids of its held labels
        now: dict[str, float] = {}  # model -> latest event time
        for (model, _), (group_events, group_ts) in groups.items():
            early = self.early.get(model)
            if not early:  # most batches: nothing held, no work per event
                continue
            now[model] = max(now.get(model, group_ts[-1]), group_ts[-1])
            ids = [e.event_id for e in group_events if e.event_id in early]
            found.setdefault(model, []).extend(i for i in ids if waiting(i, model) is not None)
        ready: list[tuple[WireLabel, float]] = []
        for model, ids in found.items():
            ready += self.early[model].take(ids)
        out = self._join([label for label, _ in ready], [t for _, t in ready])
        for model, t in now.items():
            self.early[model].expire(t)
        return out

    def _refused_predictions(
        self,
        events: Sequence[WirePrediction],
        ts: list[float],
        refused: dict[tuple[str, str], str],
        sources: Sequence[str] | None,
    ) -> tuple[list[WirePrediction], list[float], list[DeadLetter]]:
        """The events and times of the batch that were not refused, and dead letters."""
        indices: dict[tuple[str, str], list[int]] = {key: [] for key in refused}
        kept = []
        for i, event in enumerate(events):
            key = (event.model, event.model_version)
            if key in refused:
                indices[key].append(i)
            else:
                kept.append(i)
        dead = []
        for key, reason in refused.items():
            dead += self._refuse("predictions", events, indices[key], reason, sources)
        return [events[i] for i in kept], [ts[i] for i in kept], dead

    def _track_labels(self, events: Sequence[WirePrediction], ts: list[float]) -> Output:
        out = Output()
        if not [e for e in events if e.prediction is None or e.label is not None]:
            # the common case, every prediction waits: tuples built by zip, in C
            self.join.add_many(
                [e.event_id for e in events],
                [e.model for e in events],
                [e.model_version for e in events],
                [e.prediction for e in events],
                ts,
            )
            self.join.expire(ts[-1])
            return out
        self.join.add(
            (e.event_id, Pending(e.model, e.model_version, e.prediction, t))
            for e, t in zip(events, ts, strict=True)
            if e.prediction is not None and e.label is None
        )
        self.join.expire(ts[-1])
        for event, t in zip(events, ts, strict=True):
            if event.label is None or event.prediction is None:
                continue
            tracker = self._tracker(event.model, event.model_version)
            for verdict in tracker.add(event.prediction, event.label, t):
                out += self._publish_performance(event.model, event.model_version, verdict)
        return out

    def process_labels(
        self,
        labels: Sequence[WireLabel],
        sources: Sequence[str] | None = None,
        ts: Sequence[float] | None = None,
    ) -> Output:
        """Join a micro-batch of labels to their predictions and track performance; hold
        labels whose prediction has not come (yet).

        Labels of a model this monitor cannot take are refused (``sources`` and ``ts``
        as in :meth:`process_predictions`): a model not held with ``limits.max_models``
        reached, or, for labels that would be held, with as many models already
        holding early labels.
        """
        ts = event_times(labels) if ts is None else ts
        refused = self._refused_labels(labels)
        if not refused:
            self.counters.labels += len(labels)
            return self._join(labels, ts)
        dead: list[DeadLetter] = []
        for indices, reason in refused.values():
            dead += self._refuse("labels", labels, indices, reason, sources)
        kept = [i for i, label in enumerate(labels) if label.model not in refused]
        self.counters.labels += len(kept)
        out = self._join([labels[i] for i in kept], [ts[i] for i in kept])
        out.dead += dead
        return out

    def _refused_labels(self, labels: Sequence[WireLabel]) -> dict[str, tuple[list[int], str]]:
        """Models whose labels are refused: ``model -> (indices, reason)``."""
        reasons: dict[str, str | None] = {}
        holding = len(self.early)  # models holding early labels, this batch's included
        for model in dict.fromkeys(label.model for label in labels):  # first come first
            if self.limits.versions(model):
                reasons[model] = None  # held: its labels join or wait as usual
                continue
            reason = self.limits.model_refusal(model)
            if reason is None and model not in self.early:
                if holding >= self.settings.limits.max_models:
                    reason = (
                        f"model_limit: labels of {model!r} would be held for model "
                        f"{holding + 1:,} of this process, over limits.max_models "
                        f"({self.settings.limits.max_models:,})"
                    )
                else:
                    holding += 1
            reasons[model] = reason
        refused: dict[str, tuple[list[int], str]] = {}
        for i, label in enumerate(labels):
            reason = reasons[label.model]
            if reason is not None:
                refused.setdefault(label.model, ([], reason))[0].append(i)
        return refused

    def _join(self, labels: Sequence[WireLabel], ts: Sequence[float]) -> Output:
        out = Output()
        match = self.join.match
        groups: dict[tuple[str, str], tuple[list[Prediction], list[Label], list[float]]] = {}
        early: list[tuple[WireLabel, float]] = []
        for label, t in zip(labels, ts, strict=True):
            pending = match(label.event_id, label.model)
            if pending is None:
                early.append((label, t))
                continue
            model, version, prediction, _ = pending
            group = groups.get((model, version))
            if group is None:
                group = groups[(model, version)] = ([], [], [])
            group[0].append(prediction)
            group[1].append(label.label)
            group[2].append(t)
        if early:
            self._hold(early)
        for (model, version), (predictions, values, times) in groups.items():
            self.labels_matched[model] += len(predictions)
            for verdict in self._tracker(model, version).add_many(predictions, values, times):
                out += self._publish_performance(model, version, verdict)
        return out

    def _hold(self, labels: list[tuple[WireLabel, float]]) -> None:
        by_model: dict[str, tuple[list[WireLabel], list[float]]] = {}
        for label, t in labels:
            held = by_model.setdefault(label.model, ([], []))
            held[0].append(label)
            held[1].append(t)
        performance = self.settings.performance
        for model, (held_labels, held_ts) in by_model.items():
            early = self.early.get(model)
            if early is None:
                early = self.early[model] = EarlyLabels(
                    performance.early_label_ttl, performance.max_early_labels
                )
            early.hold(held_labels, held_ts)

    def process_metrics(
        self,
        metrics: Sequence[WireMetric],
        sources: Sequence[str] | None = None,
        ts: Sequence[float] | None = None,
    ) -> Output:
        """Track a micro-batch of metric values (``sources`` and ``ts`` as in
        :meth:`process_predictions`)."""
        out = Output()
        ts = event_times(metrics) if ts is None else ts
        for i, metric in enumerate(metrics):
            key = (metric.model, metric.model_version, metric.name)
            tracker = self.metric_trackers.get(key)
            if tracker is None:
                reason = self.limits.admit_metric(*key)
                if reason is not None:
                    out.dead += self._refuse("metrics", metrics, [i], reason, sources)
                    continue
                tracker = self.metric_trackers[key] = MetricTracker(
                    metric.name, self.settings.metrics
                )
            self.counters.metrics += 1
            t = ts[i]
            finding = tracker.add(metric.value, t)
            if finding is None:
                continue
            window = Span(tracker.start, t, len(tracker.recent))
            reference = AlertReference(
                id=f"{metric.model}/{metric.model_version}/metric-{metric.name}-baseline",
                events=len(tracker.baseline),
            )
            out += self._observe(metric.model, metric.model_version, [finding], window, reference)
        return out

    def _publish_window(self, model: str, version: str, tested: TestedWindow) -> Output:
        summary = tested.summary
        window = Span(summary.start, summary.end, summary.events)
        reference = AlertReference(id=tested.reference.id, events=tested.reference.events)
        out = self._observe(model, version, tested.findings, window, reference)
        if not tested.window:
            return out  # a pane between two window tests: its alerts only
        self.counters.windows += 1
        limits = {"features_ignored": summary.features.outside, **self.limits.to_dict(model)}
        out.windows.append(ClosedWindow(model, version, tested, reference, limits))
        return out

    def _publish_performance(self, model: str, version: str, verdict: Verdict) -> Output:
        loss_window = verdict.window
        window = Span(loss_window.start, loss_window.end, loss_window.count)
        baseline = self.performance[(model, version)].baseline
        assert baseline is not None
        profile = self.references.find(model, version)
        out = Output()
        for source in ("reference", "labels"):
            findings = [f for f in verdict.findings if verdict.sources[f.subject] == source]
            if not findings:
                continue
            if source == "reference" and profile is not None:
                reference = AlertReference(id=profile.id, events=profile.events)
            else:
                reference = AlertReference(
                    id=f"{model}/{version}/labels-first-{baseline.events}",
                    events=baseline.events,
                )
            out += self._observe(model, version, findings, window, reference)
        return out

    def _observe(
        self,
        model: str,
        version: str,
        findings: list[Finding],
        window: Span,
        reference: AlertReference,
    ) -> Output:
        out = Output()
        detected_at = self.clock.now(window.end)
        for finding in findings:
            alert = self.policy.observe(model, version, finding, window, reference, detected_at)
            if alert is not None:
                out.alerts.append(alert)
        self.counters.alerts += len(out.alerts)
        return out


def _feature_stats(closed: ClosedWindow) -> FeatureStats:
    tested, summary = closed.tested, closed.tested.summary
    scores: dict[str, dict[str, float]] = defaultdict(dict)
    drifting: set[str] = set()
    for finding in tested.findings:
        if finding.kind in (AlertKind.FEATURE_DRIFT, AlertKind.PREDICTION_DRIFT):
            scores[finding.subject] = {
                k: v for k, v in finding.details.items() if isinstance(v, float)
            }
            if finding.breached:
                drifting.add(finding.subject)
    columns = _column_stats(summary.features, scores, drifting)
    if summary.prediction is not None:
        columns.update(_column_stats(summary.prediction, scores, drifting))
    return FeatureStats(
        model=closed.model,
        model_version=closed.model_version,
        window=Span(summary.start, summary.end, summary.events).window(),
        reference=closed.reference,
        columns=columns,
        label_join=None if closed.label_join is None else LabelJoinStats(**closed.label_join),
        limits=LimitCounts(**closed.limits),
        estimated_performance={
            f.subject: f.score
            for f in tested.findings
            if f.kind == AlertKind.ESTIMATED_PERFORMANCE_DEGRADATION
        },
    )


def _column_stats(
    summary: ColumnSummary, scores: dict[str, dict[str, float]], drifting: set[str]
) -> dict[str, ColumnStats]:
    columns = {}
    numeric = summary.numeric
    std = np.sqrt(numeric.variance())
    total = numeric.total
    for j, name in enumerate(summary.layout.numeric.names):
        present = int(numeric.count[j])
        columns[name] = ColumnStats(
            kind="numeric",
            values=present,
            missing_share=float(numeric.missing[j] / max(total[j], 1)),
            mean=float(numeric.mean[j]) if present else None,
            std=float(std[j]) if present else None,
            min=float(numeric.min[j]) if present else None,
            max=float(numeric.max[j]) if present else None,
            drifting=name in drifting,
            scores=scores.get(name, {}),
        )
    categorical = summary.categorical
    total = categorical.total
    for j, name in enumerate(summary.layout.categorical.names):
        columns[name] = ColumnStats(
            kind=summary.layout.categorical.kinds[j],
            values=int(categorical.counts[j].sum()),
            missing_share=float(categorical.missing[j] / max(total[j], 1)),
            other=int(categorical.counts[j, 0]),
            drifting=name in drifting,
            scores=scores.get(name, {}),
        )
    return columns
