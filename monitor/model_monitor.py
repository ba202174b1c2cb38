"""Windows and tests of one model version: the unit the engines shard by.

A model version with a reference profile is tested from its first event; one without is
tested against its own first ``reference.warmup_events`` events, keeping at most
``limits.max_features`` feature names. Values of names outside the reference are left
out, counted in the window summaries, and logged once per model version.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from monitor.drift.checks import drift_findings, multivariate_finding
from monitor.drift.joint import joint_findings
from monitor.drift.null_bands import NullBands
from monitor.drift.panes import PaneTests
from monitor.drift.quality import quality_findings
from monitor.findings import Finding
from monitor.performance.estimate import estimate_findings
from monitor.reference.build import ProfileBuilder
from monitor.reference.profile import ReferenceProfile, ReferenceSet
from monitor.settings import MonitorSettings
from monitor.stats.loss import predicted_class
from monitor.stats.reconstruction import Reconstruction
from monitor.stats.window import HoppingWindow, PaneSplitter, WindowSummary
from schemas.alerts import AlertKind
from schemas.wire import WirePrediction

__all__ = ["ModelMonitor", "TestedWindow"]

log = logging.getLogger("driftline.limits")


@dataclass(frozen=True)
class TestedWindow:
    """A closed window, its reference and every finding on it.

    Between two window tests, a closed pane gives one too (``window=False``): its
    summary is the pane's, its findings the pane checks' and the sequential tests' (see
    :mod:`monitor.drift.panes`); it is not published as a window summary.
    """

    summary: WindowSummary
    reference: ReferenceProfile
    findings: list[Finding] = field(default_factory=list)
    window: bool = True


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
    >>> [(t.summary.end, t.window, [f.statistic for f in t.findings if f.breached])
    ...  for t in tested]  # the first pane closes before its window is full
    [(599.0, False, []), (699.0, True, []), (799.0, True, []),
     (899.0, True, ['location', 'out_of_range']), (999.0, True, ['wasserstein', 'out_of_range'])]
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
        self._features = settings.overrides(model)
        self._builder = (
            ProfileBuilder(
                model,
                model_version,
                settings.reference,
                settings.limits.max_features,
                self._features.bins,
            )
            if profile is None
            else None
        )
        self._bands = NullBands(settings.drift.null_z)
        self._splitter = PaneSplitter(settings.window)
        self._windows: HoppingWindow[WindowSummary] = HoppingWindow(settings.window.panes)
        self._pane: WindowSummary | None = None if profile is None else self._new_pane(profile)
        self._pane_tests = (
            None if profile is None else PaneTests(profile.features, settings, self._features)
        )
        self._closed = 0  # panes closed, for the window tests' cadence
        self._own_profile = False  # built from this model's first events
        self._told = False  # whether values outside the reference were logged

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state: everything needed to go on where this monitor stopped.

        A reference from the reference set is stored by id only; one built from the
        model's first events is stored whole.
        """
        profile = self.profile
        return {
            "model": self.model,
            "model_version": self.model_version,
            "profile_id": None if profile is None else profile.id,
            "profile": profile.to_dict() if profile is not None and self._own_profile else None,
            "builder": None if self._builder is None else self._builder.to_dict(),
            "splitter": self._splitter.to_dict(),
            "panes": [pane.to_dict() for pane in self._windows.panes],
            "pane": None if self._pane is None else self._pane.to_dict(),
            "closed": self._closed,
            "pane_tests": None if self._pane_tests is None else self._pane_tests.to_dict(),
        }

    @classmethod
    def from_dict(
        cls, data: dict[str, Any], settings: MonitorSettings, references: ReferenceSet
    ) -> "ModelMonitor":
        """Inverse of :meth:`to_dict`; the reference set must still hold its reference."""
        model, version = data["model"], data["model_version"]
        profile = None
        if data["profile"] is not None:
            profile = ReferenceProfile.from_dict(data["profile"])
        elif data["profile_id"] is not None:
            profile = references.find(model, version)
            if profile is None or profile.id != data["profile_id"]:
                found = None if profile is None else profile.id
                raise ValueError(
                    f"state of {model}/{version} was tested against {data['profile_id']}, "
                    f"but the reference set has {found}"
                )
        monitor = cls(model, version, profile, settings)
        monitor._own_profile = data["profile"] is not None
        if data["builder"] is not None:
            monitor._builder = ProfileBuilder.from_dict(
                model,
                version,
                settings.reference,
                data["builder"],
                settings.limits.max_features,
                monitor._features.bins,
            )
        monitor._splitter.load(data["splitter"])
        if profile is not None:
            features = profile.features.layout
            prediction = None if profile.prediction is None else profile.prediction.layout
            joint = monitor._joint(profile)
            for pane in data["panes"]:
                monitor._windows.panes.append(
                    WindowSummary.from_dict(features, prediction, pane, profile.calibration, joint)
                )
            if data["pane"] is not None:
                monitor._pane = WindowSummary.from_dict(
                    features, prediction, data["pane"], profile.calibration, joint
                )
        monitor._closed = data.get("closed", 0)
        if monitor._pane_tests is not None and data.get("pane_tests") is not None:
            monitor._pane_tests.load(data["pane_tests"])
        return monitor

    def _new_pane(self, profile: ReferenceProfile) -> WindowSummary:
        prediction = None if profile.prediction is None else profile.prediction.layout
        return WindowSummary(
            profile.features.layout, prediction, profile.calibration, self._joint(profile)
        )

    def _joint(self, profile: ReferenceProfile) -> Reconstruction | None:
        joint = profile.joint if self.settings.joint.enabled else None
        # TODO(joint, features): fit the PCA without ignored features at reference build;
        # until then a PCA holding one is not used, so an ignored feature drives no finding
        if joint is None or self._features.ignored.isdisjoint(joint.names):
            return joint
        return None

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
            outside = pane.features.outside
            pane.update(rows[start:stop], predictions[start:stop], ts[start:stop])
            if pane.features.outside > outside and not self._told:
                self._tell_outside(profile, rows[start:stop])
            for _ in range(closes):
                tested.append(self._close(pane, profile))
                pane = self._pane = self._new_pane(profile)
        return tested

    def _close(self, pane: WindowSummary, profile: ReferenceProfile) -> TestedWindow:
        """Close a pane: check it, and test the window when a hop is complete."""
        assert self._pane_tests is not None
        self._windows.append(pane)
        self._closed += 1
        window = None
        if self._closed % self.settings.window.panes_per_hop == 0:
            window = self._windows.merged()
        if window is not None and self._testable(window):
            findings = self._pane_tests.close(pane.features, self.test(window, profile))
            return TestedWindow(window, profile, findings)
        return TestedWindow(pane, profile, self._pane_tests.close(pane.features, None), False)

    def _tell_outside(self, profile: ReferenceProfile, rows: Sequence[dict[str, Any]]) -> None:
        self._told = True
        names = set(profile.features.layout.names)
        first = next(name for row in rows for name in row if name not in names)
        log.warning(
            "%s/%s: values of feature names outside its reference %s are left out and "
            "counted in window summaries (limits.features_ignored); the first: %r",
            self.model,
            self.model_version,
            profile.id,
            first,
        )

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
            if builder.ignored:
                log.warning(
                    "%s/%s: the reference built from its first %d events keeps %d feature "
                    "names (limits.max_features); %d values of other names were left out",
                    self.model,
                    self.model_version,
                    builder.seen,
                    self.settings.limits.max_features,
                    builder.ignored,
                )
            self.profile = builder.build()
            self._own_profile = True
            self._pane = self._new_pane(self.profile)
            self._pane_tests = PaneTests(self.profile.features, self.settings, self._features)
            self._builder = None
        return events[take:], ts[take:]

    def test(self, window: WindowSummary, profile: ReferenceProfile) -> list[Finding]:
        """Every drift, quality and multivariate finding on ``window``."""
        drift = self.settings.drift
        features = drift_findings(
            AlertKind.FEATURE_DRIFT,
            profile.features,
            window.features,
            drift,
            self._bands,
            self._features,
            self.settings.policy.resolve_band,
        )
        findings = features + quality_findings(
            profile.features,
            window.features,
            self.settings.quality,
            drift.min_values,
            self._features,
        )
        multivariate = multivariate_finding(features, drift)
        if multivariate is not None:
            findings.append(multivariate)
        findings += joint_findings(profile.joint, window.joint, self.settings.joint, drift)
        if profile.prediction is not None and window.prediction is not None:
            findings += drift_findings(
                AlertKind.PREDICTION_DRIFT,
                profile.prediction,
                window.prediction,
                drift,
                self._bands,
                resolve_band=self.settings.policy.resolve_band,
            )
        findings += estimate_findings(profile.calibration, window.scores, self.settings.estimate)
        return findings
