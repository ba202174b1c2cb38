"""Joint drift: a window's mean PCA reconstruction error against its reference's.

The reference's PCA (:class:`~monitor.stats.reconstruction.Reconstruction`) keeps the
directions its numeric features vary along together; events whose features move
together differently (a correlation that flips, with every marginal as it was) leave
that subspace and their reconstruction error rises, which no univariate test can see.
This is NannyML's data reconstruction drift, tested as a one-sided z test of the mean:
the window's mean error must exceed the reference's by ``joint.z`` standard errors (of
both means, under the reference's variance) and by ``joint.min_change`` of it.
"""

import math

import numpy as np

from monitor.findings import Finding
from monitor.settings import DriftSettings, JointSettings
from monitor.stats.reconstruction import Reconstruction, ReconstructionSummary
from schemas.alerts import AlertKind, Severity

__all__ = ["joint_findings"]

CONTRIBUTORS = 3
"""Features named in ``details``: those whose share of the residual rose most ..."""
MIN_RISE = 0.01
"""... by at least this much (a share of the window's residual sum of squares)."""


def joint_findings(
    reference: Reconstruction | None,
    window: ReconstructionSummary | None,
    settings: JointSettings,
    drift: DriftSettings,
) -> list[Finding]:
    """``multivariate_drift`` on subject ``*``, statistic ``reconstruction_error``: none
    without a PCA in the reference (or in the window: ``joint.enabled`` off), or when the
    window has fewer than ``drift.min_values`` events.

    The threshold is the reference's mean error plus the larger of ``z`` standard errors
    and ``min_change`` of it; a rise ``drift.critical_ratio`` times that margin is critical.

    >>> rng = np.random.default_rng(3)
    >>> a, b = rng.normal(size=(2, 5000))
    >>> pair = lambda rho: np.column_stack([a, rho * a + np.sqrt(1 - rho**2) * b,
    ...                                     rng.normal(size=(5000, 3))])
    >>> pca = Reconstruction.fit(tuple("abcde"), pair(0.8), 0.65)
    >>> window = ReconstructionSummary(pca)
    >>> window.update(pair(-0.8)[:1000])
    >>> [finding] = joint_findings(pca, window, JointSettings(), DriftSettings())
    >>> finding.breached, finding.details["contributors"]
    (True, ['a', 'b'])
    >>> calm = ReconstructionSummary(pca)
    >>> calm.update(pair(0.8)[:1000])
    >>> [f.breached for f in joint_findings(pca, calm, JointSettings(), DriftSettings())]
    [False]
    """
    if reference is None or window is None or window.count < max(drift.min_values, 1):
        return []
    mean = window.mean()
    standard_error = math.sqrt(reference.error_var * (1 / window.count + 1 / reference.events))
    margin = max(settings.z * standard_error, settings.min_change * reference.error_mean)
    threshold = reference.error_mean + margin
    breached = mean >= threshold
    rise = mean - reference.error_mean
    critical = breached and rise >= drift.critical_ratio * margin
    window_share = _shares(window.residuals)
    reference_share = _shares(reference.residual_means)
    rises = window_share - reference_share
    top = [int(j) for j in np.argsort(-rises, kind="stable")[:CONTRIBUTORS] if rises[j] >= MIN_RISE]
    finding = Finding(
        kind=AlertKind.MULTIVARIATE_DRIFT,
        subject="*",
        statistic="reconstruction_error",
        score=mean,
        threshold=threshold,
        breached=breached,
        severity=Severity.CRITICAL if critical else Severity.WARNING,
        details={
            "error_mean": round(mean, 6),
            "reference_error_mean": round(reference.error_mean, 6),
            "standard_error": round(standard_error, 6),
            "components": int(reference.components.shape[0]),
            "contributors": [reference.names[j] for j in top],
            "residual_share": {reference.names[j]: round(float(window_share[j]), 4) for j in top},
            "reference_residual_share": {
                reference.names[j]: round(float(reference_share[j]), 4) for j in top
            },
        },
    )
    return [finding]


def _shares(squares: np.ndarray) -> np.ndarray:
    total = squares.sum()
    return squares / total if total > 0 else np.zeros_like(squares)
