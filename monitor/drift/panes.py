"""The decision on one model version's features, pane by pane.

Three kinds of evidence meet here, one finding per alert subject coming out:

- every closed pane (``window.pane`` events) is checked for data quality and feeds the
  sequential tests (:mod:`monitor.drift.sequential`): gross changes fire within a pane
  or two, small persistent ones as their evidence adds up. A pane gives findings only
  for what breaches or stays alarmed: most panes give none, and cost little;
- every ``window.hop``, the window (``window.size``) gets the distance tests, quality
  checks and everything else :meth:`ModelMonitor.test` runs, merged with the pane's;
- hysteresis: a window finding that is not breached but still above
  ``policy.resolve_band`` of its threshold (for quality checks: of the rise over the
  reference's share) holds, and so does a feature whose sequential test is still
  alarmed. An episode resolves only on clean window findings, so a drift that hovers
  around its threshold is one episode, not a page per crossing.

A pane's findings fire at once when breached (``immediate``): the sequential tests are
calibrated to the false-alarm budget, and the quality checks' rises are far beyond
chance on a pane. A window's findings fire after ``policy.fire_after`` window tests.
"""

import dataclasses
from typing import Any

import numpy as np

from monitor.drift.quality import quality_findings
from monitor.drift.sequential import BinScores, LocationScaleCusum
from monitor.findings import Finding
from monitor.settings import FeatureOverrides, MonitorSettings
from monitor.stats.columns import ColumnSummary
from schemas.alerts import DEGRADATION_KINDS, AlertKind

__all__ = ["PaneTests"]

Key = tuple[str, str, str]


class PaneTests:
    """Pane checks and sequential tests of one model version, merged with its window tests.

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
    >>> tests.close(pane(0.0), None)  # a quiet pane between two window tests: nothing
    []
    >>> shifted = tests.close(pane(0.6), None)  # 0.6 sd: one pane is enough
    >>> [(f.subject, f.statistic, f.breached, f.immediate) for f in shifted]
    [('x', 'location', True, True)]
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
        self.cusum = LocationScaleCusum(numeric, settings.drift)

    def close(self, pane: ColumnSummary, window: list[Finding] | None) -> list[Finding]:
        """The findings of a closed pane, merged with ``window``'s (the findings of the
        window test run as this pane closed, if one did)."""
        drift = self.settings.drift
        found = quality_findings(
            self.reference,
            pane,
            self.settings.quality,
            drift.min_values,
            self.features,
            breached_only=True,
        )
        found = [dataclasses.replace(f, immediate=True) for f in found]
        if self._scores is not None:
            tested = (pane.numeric.count >= drift.min_values) & self._kept
            location, scale = self._scores.z(pane.numeric.counts)
            self.cusum.update(location, scale, tested)
            if window is None:
                tested &= self.cusum.open()
            found += [self._severity(f) for f in self.cusum.findings(tested)]
        if window is None:
            return found
        band = self.settings.policy.resolve_band
        return _merge([_with_band(f, band) for f in window], found)

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
        return {"cusum": self.cusum.to_dict()}

    def load(self, data: dict[str, Any]) -> None:
        """Restore the state saved by :meth:`to_dict`."""
        self.cusum.load(data["cusum"])


def _with_band(finding: Finding, band: float) -> Finding:
    """A window finding that holds when above ``band`` of its threshold (drift-side
    kinds only; for quality checks, of the rise over the reference's share)."""
    if finding.breached or finding.kind in DEGRADATION_KINDS:
        return finding
    if finding.resolve_below is not None:
        holds = finding.score >= finding.resolve_below
    elif finding.kind == AlertKind.DATA_QUALITY:
        floor = float(finding.details.get("reference_share", 0.0))
        holds = finding.score >= floor + band * (finding.threshold - floor)
    else:
        holds = finding.score >= band * finding.threshold
    return dataclasses.replace(finding, hold=True) if holds else finding


def _strength(finding: Finding) -> float:
    return finding.score / finding.threshold if finding.threshold else 0.0


def _merge(window: list[Finding], pane: list[Finding]) -> list[Finding]:
    """The window's findings, each merged with the pane's on the same subject: the
    strongest breached one wins; else it holds if either holds. A feature's drift finding
    carries the sequential tests' scores in its details."""
    merged = list(window)
    at = {f.episode_key: i for i, f in enumerate(window)}
    for finding in pane:
        i = at.get(finding.episode_key)
        if i is None:
            if finding.breached or finding.hold:
                merged.append(finding)
            continue
        current = merged[i]
        chosen = current
        if finding.breached and (not current.breached or _strength(finding) > _strength(current)):
            chosen = finding
        elif not current.breached and finding.hold and not current.hold:
            chosen = dataclasses.replace(current, hold=True)
        if finding.kind == AlertKind.FEATURE_DRIFT:
            chosen = dataclasses.replace(chosen, details=current.details | finding.details)
        merged[i] = chosen
    return merged
