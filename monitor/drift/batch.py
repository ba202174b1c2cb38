"""Drift between data sets at rest, given column by column: arrays, lists, DataFrames.

The stream monitor profiles a reference once and tests each window against it.
:class:`DriftCheck` does the same for data a user already holds: it profiles the
reference (the same profile ``driftline reference build`` writes) and tests any number of
current sets against it with the monitor's tests and chance levels, one call each.
"""

from collections.abc import Mapping

from monitor.drift.checks import drift_findings
from monitor.drift.null_bands import NullBands
from monitor.findings import Finding
from monitor.reference.build import profile_columns
from monitor.reference.profile import ANY, ReferenceProfile
from monitor.settings import DriftSettings, FeatureOverrides, FeatureSettings, ReferenceSettings
from monitor.stats.columns import Column, ColumnSummary
from schemas.alerts import AlertKind

__all__ = ["DriftCheck"]


class DriftCheck:
    """A reference profiled once; current sets tested against it, one call each.

    ``reference`` is a profile, or columns: a mapping of feature name to values (lists,
    numpy arrays, pandas Series; None or NaN = missing), such as ``dict(frame.items())``
    of a DataFrame. Columns of numbers are numeric features, the others categorical.
    ``features`` holds settings per feature (tests, thresholds, bins, severity, ignore),
    as the ``[features]`` section of the monitor's settings does per model.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> def sample(shift: float, share_de: float) -> dict[str, np.ndarray]:
    ...     return {
    ...         "amount": rng.normal(shift, 1.0, 5_000),
    ...         "country": rng.choice(["DE", "FR"], 5_000, p=[share_de, 1 - share_de]),
    ...     }
    >>> check = DriftCheck(sample(0.0, 0.5))
    >>> [(f.subject, f.breached) for f in check.test(sample(0.0, 0.5))]
    [('amount', False), ('country', False)]
    >>> [(f.subject, f.statistic) for f in check.test(sample(0.5, 0.8)) if f.breached]
    [('amount', 'wasserstein'), ('country', 'jensen_shannon')]
    >>> own = DriftCheck(sample(0.0, 0.5), features={
    ...     "amount": FeatureSettings(tests=["ks"], bins=50), "country": {"ignore": True}})
    >>> [(f.subject, f.statistic) for f in own.test(sample(0.5, 0.8)) if f.breached]
    [('amount', 'ks')]
    >>> own.profile.features.numeric.counts.shape
    (1, 50)
    """

    def __init__(
        self,
        reference: Mapping[str, Column] | ReferenceProfile,
        drift: DriftSettings | None = None,
        profile: ReferenceSettings | None = None,
        features: Mapping[str, FeatureSettings | Mapping[str, object]] | None = None,
    ) -> None:
        self.drift = drift or DriftSettings()
        self.features = FeatureOverrides.checked(features or {}, self.drift)
        if isinstance(reference, ReferenceProfile):
            self.profile = reference
        else:
            self.profile = profile_columns(
                ANY,
                ANY,
                reference,
                profile or ReferenceSettings(),
                bins=self.features.bins,
            )
        self._bands = NullBands(self.drift.null_z)  # chance levels drawn once per window size

    def summarize(self, current: Mapping[str, Column]) -> ColumnSummary:
        """The current set's statistics on the reference's bins (absent features count as
        missing; features the reference lacks are ignored)."""
        summary = ColumnSummary(self.profile.features.layout)
        summary.update_columns(current)
        return summary

    def test(self, current: Mapping[str, Column]) -> list[Finding]:
        """One finding per feature with at least ``drift.min_values`` values, numeric
        features first; ``breached`` says it drifts, ``details`` has every test's score."""
        return self.findings(self.summarize(current))

    def findings(self, summary: ColumnSummary) -> list[Finding]:
        """:meth:`test`'s findings for statistics already summarised (:meth:`summarize`,
        or summaries of several batches added together)."""
        return drift_findings(
            AlertKind.FEATURE_DRIFT,
            self.profile.features,
            summary,
            self.drift,
            self._bands,
            self.features,
        )
