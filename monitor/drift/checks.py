"""Drift tests of a window against its reference, column by column.

Each column gets the tests configured for its type (``drift.numeric_tests``,
``drift.categorical_tests``) or its own (``features.<model>.<feature>``), all vectorised
over the model's columns: each test runs once over every column, with a threshold per
column. A column drifts
when any of its tests fires; its finding reports the first test that fired (in the
configured order) and every test's score in ``details``. Columns with fewer than
``drift.min_values`` values in the window are not tested.
"""

import logging
from collections.abc import Callable
from functools import lru_cache

import numpy as np

from monitor.drift import distances
from monitor.drift.distances import FloatArray
from monitor.drift.null_bands import NullBands
from monitor.findings import Finding
from monitor.settings import DriftSettings, DriftTest, FeatureOverrides
from monitor.stats.columns import ColumnSummary
from monitor.stats.numeric import NumericBins
from schemas.alerts import AlertKind, Severity

__all__ = ["drift_findings", "multivariate_finding"]

TestResult = tuple[FloatArray, FloatArray, FloatArray | None]
"""Scores, thresholds (fires at ``score >= threshold``) and p-values, one per column."""

log = logging.getLogger("driftline.drift")


@lru_cache(maxsize=1024)  # once per message: a model's settings are told once, not per window
def _tell_once(message: str) -> None:
    log.warning(message)


@lru_cache(maxsize=1024)  # bounded: a long-lived process may profile many references
def _positions(bins: NumericBins) -> FloatArray:
    return bins.positions()


def _run(
    test: DriftTest,
    reference: FloatArray,
    window: FloatArray,
    threshold: float | FloatArray,
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
    features: FeatureOverrides | None = None,
) -> list[Finding]:
    """One finding per tested column of ``window``.

    ``features`` (a model's ``[features]`` settings) sets a column's tests, thresholds
    and severity, or leaves it out.

    >>> from monitor.reference.build import profile_columns
    >>> from monitor.settings import MonitorSettings, ReferenceSettings
    >>> rng = np.random.default_rng(0)
    >>> profile = profile_columns("m", "1", {"x": rng.normal(size=5000)}, ReferenceSettings())
    >>> window = ColumnSummary(profile.features.layout)
    >>> window.update_columns({"x": rng.normal(0.2, 1.0, 1000)})
    >>> def test(features):
    ...     overrides = MonitorSettings(features={"m": {"x": features}}).overrides("m")
    ...     found = drift_findings(AlertKind.FEATURE_DRIFT, profile.features, window,
    ...                            DriftSettings(), NullBands(4.0), overrides)
    ...     return [(f.statistic, f.breached, f.severity.value) for f in found]
    >>> test({})
    [('wasserstein', True, 'warning')]
    >>> test({"tests": ["psi"], "severity": "critical"})
    [('psi', False, 'critical')]
    >>> test({"thresholds": {"wasserstein": 0.5}})
    [('wasserstein', False, 'warning')]
    >>> test({"ignore": True})
    []
    """
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
            features,
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
            features,
        )
    return findings


def _column_tests(
    names: tuple[str, ...],
    tests: list[DriftTest],
    numeric: bool,
    features: FeatureOverrides | None,
) -> list[tuple[DriftTest, ...]]:
    """The tests of each column: its type's, or those its ``[features]`` entry sets."""
    if features is None or not features.features:
        return [tuple(tests)] * len(names)
    chosen = []
    for name in names:
        entry = features.get(name)
        if entry is None or entry.tests is None or entry.ignore:
            chosen.append(tuple(tests))
        elif not numeric and "wasserstein" in entry.tests:
            _tell_once(
                f"{features.model}/{name}: wasserstein needs numbers, and this feature is "
                "categorical in its reference: its other tests run (features."
                f"{features.model}.{name}.tests)",
            )
            chosen.append(tuple(t for t in entry.tests if t != "wasserstein"))
        else:
            chosen.append(tuple(entry.tests))
    return chosen


def _thresholds(
    names: tuple[str, ...],
    test: DriftTest,
    runs: FloatArray,
    settings: DriftSettings,
    features: FeatureOverrides | None,
) -> float | FloatArray:
    """``test``'s threshold, or one per column when a ``[features]`` entry sets one."""
    default = settings.thresholds.get(test)
    own = {}
    if features is not None and features.features:
        for j, name in enumerate(names):
            entry = features.get(name)
            if runs[j] and entry is not None and test in entry.thresholds:
                own[j] = entry.thresholds[test]
    if not own:
        assert default is not None  # the settings check each test has a threshold
        return default
    values = np.full(len(names), default if default is not None else next(iter(own.values())))
    values[list(own)] = list(own.values())
    return values


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
    features: FeatureOverrides | None = None,
) -> list[Finding]:
    column_tests = _column_tests(names, tests, scale is not None, features)
    if features is not None and features.ignored.intersection(names):
        tested = tested & np.array([name not in features.ignored for name in names])
        _tell_once(
            f"{features.model}: features {sorted(features.ignored.intersection(names))} "
            "are left out of drift, quality and multivariate findings "
            "(ignore = true in [features])",
        )
    if not tested.any():
        return []
    union = list(dict.fromkeys(t for j in np.flatnonzero(tested) for t in column_tests[j]))
    results = {}
    for test in union:  # each test once over every column, as the chance levels are cached
        runs = np.array([test in column for column in column_tests])
        threshold = _thresholds(names, test, runs, settings, features)
        results[test] = _run(test, reference, window, threshold, bands, scale)
    findings = []
    for j in np.flatnonzero(tested):
        details: dict[str, float] = {}
        chosen: tuple[DriftTest, float, float, float | None] | None = None
        for test in column_tests[j]:
            scores, thresholds, p_values = results[test]
            score, threshold = float(scores[j]), float(thresholds[j])
            p_value = None if p_values is None else float(p_values[j])
            details[test] = round(score, 6)
            if p_value is not None:
                details[f"{test}_p_value"] = p_value
            if chosen is None or (score >= threshold and chosen[1] < chosen[2]):
                chosen = (test, score, threshold, p_value)
        if chosen is None:  # a feature set to no tests
            continue
        test, score, threshold, p_value = chosen
        breached = score >= threshold
        critical = breached and score >= settings.critical_ratio * threshold
        severity = Severity.CRITICAL if critical else Severity.WARNING
        entry = None if features is None else features.get(names[j])
        findings.append(
            Finding(
                kind=kind,
                subject=names[j],
                statistic=test,
                score=score,
                threshold=threshold,
                breached=breached,
                severity=severity if entry is None or entry.severity is None else entry.severity,
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
