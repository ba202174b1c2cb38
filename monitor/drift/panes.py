"""The decision on one model version's features, pane by pane.

Three kinds of evidence meet here, one finding per alert subject coming out:

- every closed pane (``window.pane`` events) is checked for data quality and feeds the
  sequential tests (:mod:`monitor.drift.sequential`): gross changes fire within a pane
  or two, small persistent ones as their evidence adds up;
- every ``window.hop``, the window (``window.size``) gets the distance tests, quality
  checks and everything else :meth:`ModelMonitor.test` runs; its findings are carried to
  the panes until the next window test;
- hysteresis: a finding that is not breached but still above ``policy.resolve_band`` of
  its threshold (for quality checks: of the rise over the reference's share) holds, and
  so does a subject the last window breached. An episode resolves only on clean
  findings, so a drift that hovers around its threshold is one episode, not a page per
  crossing.

A pane's findings fire at once when breached (``immediate``): the sequential tests are
calibrated to the false-alarm budget, and the quality checks' rises are far beyond
chance on a pane. A window's findings fire after ``policy.fire_after`` window tests, as
before; between two tests, the last one's breach holds.
"""

import dataclasses
from typing import Any

import numpy as np

from monitor.drift.quality import quality_findings
from monitor.drift.sequential import BinScores, Cusum
from monitor.findings import Finding
from monitor.settings import FeatureOverrides, MonitorSettings
from monitor.stats.columns import ColumnSummary
from schemas.alerts import DEGRADATION_KINDS, AlertKind

__all__ = ["PaneTests"]

Key = tuple[str, str, str]


class PaneTests:
    """Pane checks, sequential tests and the carried window findings of one model version.

    Examples
    --------
    >>> from monitor.reference.build import ProfileBuilder
    >>> from monitor.settings import ReferenceSettings
    >>> rng = np.random.default_rng(3)
    >>> builder = ProfileBuilder("m", "1", ReferenceSettings())
    >>> for x in rng.normal(size=5000):
    ...     builder.add({"x": float(x)})
    >>> reference = builder.build().features
    >>> tests = PaneTests(reference, MonitorSettings())
    >>> def pane(shift):
    ...     summary = ColumnSummary(reference.layout)
    ...     summary.update_columns({"x": rng.normal(shift, 1.0, 250)})
    ...     return summary
    >>> quiet = tests.close(pane(0.0), None)
    >>> [(f.statistic, f.breached) for f in quiet]  # quality checks, then the CUSUMs
    [('missing_rate', False), ('type_mismatch', False), ('out_of_range', False), ('scale', False)]
    >>> shifted = tests.close(pane(0.6), None)  # 0.6 sd: one pane is enough
    >>> [(f.statistic, f.immediate) for f in shifted if f.breached]
    [('location', True)]
    """

    def __init__(
        self,
        reference: ColumnSummary,
        settings: MonitorSettings,
        features: FeatureOverrides | None = None,
    ) -> None:
        self.reference = reference
        self.settings = settings
        self.features = features
        numeric = reference.layout.numeric.names
        self._kept = np.array([self._sequential_on(name) for name in numeric], dtype=np.bool_)
        self._scores = BinScores.from_counts(reference.numeric.counts) if self._kept.any() else None
        self.cusum = Cusum(numeric, settings.drift)
        self.carried: dict[Key, tuple[bool, bool]] = {}
        """Per subject, whether the last window breached it, or held it."""

    def close(self, pane: ColumnSummary, window: list[Finding] | None) -> list[Finding]:
        """The findings of a closed pane, merged with ``window``'s (the window test run
        at this pane, if any) or with the last window's carried over."""
        drift = self.settings.drift
        band = self.settings.policy.resolve_band
        found = quality_findings(
            self.reference, pane, self.settings.quality, drift.min_values, self.features
        )
        if self._scores is not None:
            tested = (pane.numeric.count >= drift.min_values) & self._kept
            location, scale = self._scores.z(pane.numeric.counts)
            self.cusum.update(location, scale, tested)
            found += [self._severity(f) for f in self.cusum.findings(tested)]
        found = [_with_band(f, band, immediate=True) for f in found]
        if window is not None:
            window = [_with_band(f, band, immediate=False) for f in window]
            self.carried = {f.episode_key: (f.breached, f.hold) for f in window}
            return _merge(window, found, {})
        return _merge([], found, self.carried)

    def _sequential_on(self, name: str) -> bool:
        """Whether the sequential tests run on numeric feature ``name``."""
        entry = None if self.features is None else self.features.get(name)
        if entry is None:
            return self.settings.drift.sequential
        if entry.ignore:
            return False
        return self.settings.drift.sequential if entry.sequential is None else entry.sequential

    def _severity(self, finding: Finding) -> Finding:
        """A sequential finding with the severity its feature's settings fix, if any."""
        entry = None if self.features is None else self.features.get(finding.subject)
        if entry is None or entry.severity is None or entry.severity == finding.severity:
            return finding
        return dataclasses.replace(finding, severity=entry.severity)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state."""
        return {
            "cusum": self.cusum.to_dict(),
            "carried": [[*key, *flags] for key, flags in self.carried.items()],
        }

    def load(self, data: dict[str, Any]) -> None:
        """Restore the state saved by :meth:`to_dict`."""
        self.cusum.load(data["cusum"])
        self.carried = {
            (kind, subject, check): (breached, hold)
            for kind, subject, check, breached, hold in data["carried"]
        }


def _with_band(finding: Finding, band: float, immediate: bool) -> Finding:
    """A finding with its hold flag set (drift-side kinds only), and made ``immediate``
    when breached if asked."""
    if finding.kind in DEGRADATION_KINDS:
        return finding
    if finding.breached:
        if finding.immediate or not immediate:
            return finding
        return dataclasses.replace(finding, immediate=True)
    if finding.kind == AlertKind.DATA_QUALITY:
        floor = float(finding.details.get("reference_share", 0.0))
        holds = finding.score >= floor + band * (finding.threshold - floor)
    else:
        holds = finding.score >= band * finding.threshold
    return dataclasses.replace(finding, hold=True) if holds else finding


def _strength(finding: Finding) -> float:
    return finding.score / finding.threshold if finding.threshold else 0.0


def _merge(
    window: list[Finding], pane: list[Finding], carried: dict[Key, tuple[bool, bool]]
) -> list[Finding]:
    """One finding per subject: a breached one if any (the strongest), else one that
    holds if any holds (or the last window breached or held it), else a clean one. A
    feature's drift finding carries every test's scores in its details."""
    by_key: dict[Key, list[Finding]] = {}
    for finding in window + pane:
        by_key.setdefault(finding.episode_key, []).append(finding)
    merged = []
    for key, group in by_key.items():
        if len(group) == 1 and key not in carried:
            merged.append(group[0])
            continue
        breached = [f for f in group if f.breached]
        if breached:
            chosen = max(breached, key=_strength)
        else:
            chosen = group[0]  # the window's when there is one: it has the most details
            was_breached, was_held = carried.get(key, (False, False))
            if not chosen.hold and (was_breached or was_held or any(f.hold for f in group)):
                chosen = dataclasses.replace(chosen, hold=True)
        if len(group) > 1 and key[0] == AlertKind.FEATURE_DRIFT.value:
            details = {k: v for f in reversed(group) for k, v in f.details.items()}
            chosen = dataclasses.replace(chosen, details=details | chosen.details)
        merged.append(chosen)
    return merged
