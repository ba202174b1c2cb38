"""Drift tests of a window against its reference, column by column.

Each column gets the tests configured for its type (``drift.numeric_tests``,
``drift.categorical_tests``), all vectorised over the model's columns. A column drifts
when any of its tests fires; its finding reports the first test that fired (in the
configured order) and every test's score in ``details``. Columns with fewer than
``drift.min_values`` values in the window are not tested.
"""

from collections.abc import Callable
from functools import lru_cache

import numpy as np

from monitor.drift import distances
from monitor.drift.distances import FloatArray
from monitor.drift.null_bands import NullBands
from monitor.findings import Finding
from monitor.settings import DriftSettings, DriftTest
from monitor.stats.columns import ColumnSummary
from monitor.stats.numeric import NumericBins
from schemas.alerts import AlertKind, Severity

__all__ = ["drift_findings", "multivariate_finding"]

TestResult = tuple[FloatArray, FloatArray, FloatArray | None]
"""Scores, thresholds (fires at ``score >= threshold``) and p-values, one per column."""


@lru_cache(maxsize=1024)  # bounded: a long-lived process may profile many references
def _positions(bins: NumericBins) -> FloatArray:
    return bins.positions()


def _run(
    test: DriftTest,
    reference: FloatArray,
    window: FloatArray,
    threshold: float,
    bands: NullBands,
    scale: tuple[FloatArray, FloatArray] | None,
) -> TestResult:
    if test in ("ks", "chi_square"):
        run = distances.ks if test == "ks" else distances.chi_square
        statistic, p_value, critical = run(reference, window, threshold)
        return statistic, critical, p_value
    distance: Callable[[FloatArray, FloatArray], FloatArray]
    if test == "psi":
        distance = distances.psi
    elif test == "jensen_shannon":
        distance = distances.jensen_shannon
    else:
        if scale is None:
            raise ValueError("wasserstein applies to numeric columns only")
        positions, std = scale

        def distance(ref: FloatArray, win: FloatArray) -> FloatArray:
            repeats = ref.shape[0] // positions.shape[0]
            return distances.wasserstein(
                ref, win, np.tile(positions, (repeats, 1)), np.tile(std, repeats)
            )

    chance = bands.level(test, distance, reference, window.sum(axis=1))
    return distance(reference, window), np.maximum(threshold, chance), None


def drift_findings(
    kind: AlertKind,
    reference: ColumnSummary,
    window: ColumnSummary,
    settings: DriftSettings,
    bands: NullBands,
) -> list[Finding]:
    """One finding per tested column of ``window``."""
    findings = []
    numeric = reference.layout.numeric
    if numeric.names:
        ref, win = reference.numeric, window.numeric
        tested = (win.count >= settings.min_values) & (ref.count > 0)
        scale = (_positions(numeric), np.sqrt(ref.variance()))
        findings += _column_findings(
            kind,
            numeric.names,
            tested,
            ref.counts,
            win.counts,
            settings.numeric_tests,
            settings,
            bands,
            scale,
        )
    categorical = reference.layout.categorical
    if categorical.names:
        ref_counts, win_counts = reference.categorical.counts, window.categorical.counts
        tested = (win_counts.sum(axis=1) >= settings.min_values) & (ref_counts.sum(axis=1) > 0)
        findings += _column_findings(
            kind,
            categorical.names,
            tested,
            ref_counts,
            win_counts,
            settings.categorical_tests,
            settings,
            bands,
            None,
        )
    return findings


def _column_findings(
    kind: AlertKind,
    names: tuple[str, ...],
    tested: np.ndarray,
    reference: np.ndarray,
    window: np.ndarray,
    tests: list[DriftTest],
    settings: DriftSettings,
    bands: NullBands,
    scale: tuple[FloatArray, FloatArray] | None,
) -> list[Finding]:
    if not tests or not tested.any():
        return []
    results = {
        test: _run(test, reference, window, settings.thresholds[test], bands, scale)
        for test in tests
    }
    findings = []
    for j in np.flatnonzero(tested):
        details: dict[str, float] = {}
        chosen: tuple[DriftTest, float, float, float | None] | None = None
        for test, (scores, thresholds, p_values) in results.items():
            score, threshold = float(scores[j]), float(thresholds[j])
            p_value = None if p_values is None else float(p_values[j])
            details[test] = round(score, 6)
            if p_value is not None:
                details[f"{test}_p_value"] = p_value
            if chosen is None or (score >= threshold and chosen[1] < chosen[2]):
                chosen = (test, score, threshold, p_value)
        assert chosen is not None
        test, score, threshold, p_value = chosen
        breached = score >= threshold
        critical = breached and score >= settings.critical_ratio * threshold
        findings.append(
            Finding(
                kind=kind,
                subject=names[j],
                statistic=test,
                score=score,
                threshold=threshold,
                breached=breached,
                severity=Severity.CRITICAL if critical else Severity.WARNING,
                p_value=p_value,
                details=details,
            )
        )
    return findings


def multivariate_finding(features: list[Finding], settings: DriftSettings) -> Finding | None:
    """``multivariate_drift`` on subject ``*``: the share of tested features drifting.

    Needs at least two tested features.

    >>> drifting = Finding(AlertKind.FEATURE_DRIFT, "a", "psi", 0.5, 0.2, breached=True)
    >>> quiet = Finding(AlertKind.FEATURE_DRIFT, "b", "psi", 0.01, 0.2, breached=False)
    >>> multivariate_finding([drifting, quiet], DriftSettings()).score
    0.5
    """
    if len(features) < 2:
        return None
    drifting = sorted(f.subject for f in features if f.breached)
    share = len(drifting) / len(features)
    breached = share >= settings.multivariate_share
    return Finding(
        kind=AlertKind.MULTIVARIATE_DRIFT,
        subject="*",
        statistic="drifted_share",
        score=share,
        threshold=settings.multivariate_share,
        breached=breached,
        severity=Severity.CRITICAL if breached and share >= 0.75 else Severity.WARNING,
        details={"drifting": drifting, "tested": len(features)},
    )
