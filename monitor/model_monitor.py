"""Windows and tests of one model version: the unit the engines shard by.

A model version with a reference profile is tested from its first event; one without is
tested against its own first ``reference.warmup_events`` events.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from monitor.drift.checks import drift_findings, multivariate_finding
from monitor.drift.null_bands import NullBands
from monitor.drift.quality import quality_findings
from monitor.findings import Finding
from monitor.performance.loss import predicted_class
from monitor.reference.build import ProfileBuilder
from monitor.reference.profile import ReferenceProfile
from monitor.settings import MonitorSettings
from monitor.stats.window import HoppingWindow, PaneSplitter, WindowSummary
from schemas.alerts import AlertKind
from schemas.wire import WirePrediction

__all__ = ["ModelMonitor", "TestedWindow"]


@dataclass(frozen=True)
class TestedWindow:
    """A closed window, its reference and every finding on it."""

    summary: WindowSummary
    reference: ReferenceProfile
    findings: list[Finding] = field(default_factory=list)


class ModelMonitor:
    """Rolling statistics of one model version, tested window by window.

    Examples
    --------
    >>> import numpy as np
    >>> from schemas.wire import WirePrediction
    >>> settings = MonitorSettings(window={"size": 200, "hop": 100},
    ...                            reference={"warmup_events": 500})
    >>> monitor = ModelMonitor("m", "1", None, settings)
    >>> rng = np.random.default_rng(7)
    >>> events = [WirePrediction(str(i), "m", float(i), {"x": float(rng.normal(i >= 800))})
    ...           for i in range(1000)]
    >>> tested = monitor.add(events, [float(i) for i in range(1000)])
    >>> [(t.summary.end, [f.subject for f in t.findings if f.breached]) for t in tested]
    [(699.0, []), (799.0, []), (899.0, ['x']), (999.0, ['x', 'x'])]
    """

    def __init__(
        self,
        model: str,
        model_version: str,
        profile: ReferenceProfile | None,
        settings: MonitorSettings,
    ) -> None:
        self.model = model
        self.model_version = model_version
        self.settings = settings
        self.profile = profile
        self._builder = (
            ProfileBuilder(model, model_version, settings.reference) if profile is None else None
        )
        self._bands = NullBands(settings.drift.null_z)
        self._splitter = PaneSplitter(settings.window)
        self._windows: HoppingWindow[WindowSummary] = HoppingWindow(settings.window.panes)
        self._pane: WindowSummary | None = None if profile is None else self._new_pane(profile)

    @staticmethod
    def _new_pane(profile: ReferenceProfile) -> WindowSummary:
        prediction = None if profile.prediction is None else profile.prediction.layout
        return WindowSummary(profile.features.layout, prediction)

    @property
    def late(self) -> int:
        """Events that arrived after their time pane had closed (counted in the open one)."""
        return self._splitter.late

    def add(self, events: Sequence[WirePrediction], ts: Sequence[float]) -> list[TestedWindow]:
        """Add a batch of this model version's events; return the windows it closed."""
        if self._builder is not None:
            events, ts = self._warm_up(events, ts)
        if not events:
            return []
        profile, pane = self.profile, self._pane
        assert profile is not None
        assert pane is not None
        rows = [e.features for e in events]
        predictions = [e.prediction for e in events]
        if profile.prediction is not None and profile.prediction.layout.categorical.names:
            predictions = [predicted_class(p) if isinstance(p, dict) else p for p in predictions]
        tested = []
        for start, stop, closes in self._splitter.split(np.asarray(ts, dtype=np.float64)):
            pane.update(rows[start:stop], predictions[start:stop], ts[start:stop])
            for _ in range(closes):
                window = self._windows.push(pane)
                pane = self._pane = self._new_pane(profile)
                if window is not None and self._testable(window):
                    tested.append(TestedWindow(window, profile, self.test(window, profile)))
        return tested

    def _testable(self, window: WindowSummary) -> bool:
        if self.settings.window.kind == "count":
            return True
        return window.events >= self.settings.window.min_events

    def _warm_up(
        self, events: Sequence[WirePrediction], ts: Sequence[float]
    ) -> tuple[Sequence[WirePrediction], Sequence[float]]:
        builder = self._builder
        assert builder is not None
        take = min(len(events), self.settings.reference.warmup_events - builder.seen)
        for event in events[:take]:
            builder.add(event.features, event.prediction, event.label)
        if builder.seen >= self.settings.reference.warmup_events:
            self.profile = builder.build()
            self._pane = self._new_pane(self.profile)
            self._builder = None
        return events[take:], ts[take:]

    def test(self, window: WindowSummary, profile: ReferenceProfile) -> list[Finding]:
        """Every drift, quality and multivariate finding on ``window``."""
        drift = self.settings.drift
        features = drift_findings(
            AlertKind.FEATURE_DRIFT, profile.features, window.features, drift, self._bands
        )
        findings = features + quality_findings(
            profile.features, window.features, self.settings.quality, drift.min_values
        )
        multivariate = multivariate_finding(features, drift)
        if multivariate is not None:
            findings.append(multivariate)
        if profile.prediction is not None and window.prediction is not None:
            findings += drift_findings(
                AlertKind.PREDICTION_DRIFT,
                profile.prediction,
                window.prediction,
                drift,
                self._bands,
            )
        return findings
