"""Label-free performance estimates of a binary classifier: confidence-based (CBPE).

As NannyML's CBPE does, the reference's isotonic calibration
(:class:`~monitor.stats.calibration.Calibration`) turns each score into the probability
``p`` that its event is positive; assuming the calibration still holds (the inputs may
shift, but not how the label depends on them: no concept drift), a window's expected
confusion matrix, hence its accuracy and ROC AUC, follows from its scores alone, long
before its labels arrive:

- accuracy: the mean of ``p`` over positive predictions (score at or above 0.5) and of
  ``1 - p`` over negative ones;
- ROC AUC: the Mann-Whitney statistic with each event counted as ``p`` of a positive and
  ``1 - p`` of a negative, scores of one calibration bin tied (equal ``p``).

Each is a function of the window's share of scores per bin, so its standard error when
the window is drawn from the reference follows by the delta method from the multinomial
covariance of those shares; a window is compared with the same estimate on the
reference's own scores, which keeps the estimator's small biases out of the drop.
"""

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from monitor.findings import Finding
from monitor.settings import EstimateSettings
from monitor.stats.calibration import Calibration, ScoreCounts
from schemas.alerts import AlertKind, Severity

__all__ = ["estimate_findings", "estimated_accuracy", "estimated_roc_auc"]

FloatArray = npt.NDArray[np.float64]
Estimator = Callable[[Calibration, FloatArray], tuple[float, FloatArray] | None]


def estimated_accuracy(calibration: Calibration, share: FloatArray) -> tuple[float, FloatArray]:
    """Estimated accuracy of scores with ``share`` of them in each calibration bin, and
    its gradient in the shares.

    >>> calibration = Calibration.fit([0.125, 0.25, 0.75, 0.875], [0, 1, 0, 1])
    >>> value, _ = estimated_accuracy(calibration, np.array([0.5, 0.0, 0.0, 0.5]))
    >>> float(value)
    1.0
    """
    values = calibration.values
    right = np.where(calibration.positive, values, 1.0 - values)
    return float(share @ right), right


def estimated_roc_auc(
    calibration: Calibration, share: FloatArray
) -> tuple[float, FloatArray] | None:
    """Estimated ROC AUC (None when no positive or no negative is expected), and its
    gradient in the shares.

    >>> calibration = Calibration.fit([0.125, 0.25, 0.75, 0.875], [0, 1, 0, 1])
    >>> value, _ = estimated_roc_auc(calibration, np.array([0.25, 0.25, 0.25, 0.25]))
    >>> float(value)
    0.875
    """
    values = calibration.values
    positives, negatives = share * values, share * (1.0 - values)
    p, n = positives.sum(), negatives.sum()
    if p <= 0.0 or n <= 0.0:
        return None
    below = np.cumsum(negatives) - negatives  # expected negatives in lower bins
    above = p - np.cumsum(positives)  # expected positives in higher bins
    auc = float(positives @ (below + negatives / 2) / (p * n))
    pairs = values * below + (1.0 - values) * above + share * values * (1.0 - values)
    gradient = pairs / (p * n) - auc * (values / p + (1.0 - values) / n)
    return auc, gradient


_ESTIMATORS: dict[str, Estimator] = {"accuracy": estimated_accuracy, "roc_auc": estimated_roc_auc}


def estimate_findings(
    calibration: Calibration | None, window: ScoreCounts | None, settings: EstimateSettings
) -> list[Finding]:
    """One finding per metric of ``settings.metrics`` on a window's scores (none without a
    calibration).

    A window breaches when its estimate is below the reference's by at least
    ``min_change`` of the reference's value and ``z`` standard errors.

    Examples
    --------
    >>> rng = np.random.default_rng(3)
    >>> scores = 1 / (1 + np.exp(-rng.normal(0, 2, 20_000)))
    >>> calibration = Calibration.fit(scores, rng.random(20_000) < scores)
    >>> window = ScoreCounts(calibration)
    >>> window.update((1 / (1 + np.exp(-rng.normal(0, 0.5, 2000)))).tolist())  # near 0.5
    >>> [(f.subject, round(f.details["reference"], 2), round(f.score, 2), f.breached)
    ...  for f in estimate_findings(calibration, window, EstimateSettings())]
    [('accuracy', 0.78, 0.59, True), ('roc_auc', 0.86, 0.63, True)]
    """
    if calibration is None or window is None:
        return []
    events = window.events
    if not settings.enabled or events < settings.min_scores:
        return []
    reference_events = int(calibration.counts.sum())
    reference_share = calibration.counts / reference_events
    share = window.counts / events
    realized = {"accuracy": calibration.accuracy, "roc_auc": calibration.roc_auc or 0.0}
    findings = []
    for metric in settings.metrics:
        reference = _ESTIMATORS[metric](calibration, reference_share)
        estimated = _ESTIMATORS[metric](calibration, share)
        if reference is None or estimated is None:
            continue
        (expected, gradient), estimate = reference, estimated[0]
        # variance of the estimate over windows drawn from the reference's scores
        unit = max(float(reference_share @ gradient**2 - (reference_share @ gradient) ** 2), 0.0)
        error = float(np.sqrt(unit * (1 / events + 1 / reference_events)))
        allowed = max(settings.min_change * expected, settings.z * error)
        drop = expected - estimate
        findings.append(
            Finding(
                kind=AlertKind.ESTIMATED_PERFORMANCE_DEGRADATION,
                subject=metric,
                statistic="cbpe",
                score=round(estimate, 6),
                threshold=round(expected - allowed, 6),
                breached=drop >= allowed,
                severity=Severity.CRITICAL if drop >= 2 * allowed else Severity.WARNING,
                details={
                    "estimate": round(estimate, 6),
                    "reference": round(expected, 6),
                    "reference_realized": round(realized[metric], 6),
                    "standard_error": round(error, 6),
                    "scores": events,
                },
            )
        )
    return findings
