"""Drift tests of a window against its reference, column by column.

Each column gets the tests configured for its type (``drift.numeric_tests``,
``drift.categorical_tests``) or its own (``features.<model>.<feature>``), all vectorised
over the model's columns: each test runs once over every column, with a threshold per
column. A column drifts
when any of its tests fires; its finding reports the first test that fired (in the
configured order) and every test's score in ``details``. Columns with fewer than
``drift.min_values`` values in the window are not tested.

Each finding also says where its episode may end (``resolve_below``, the hysteresis):
``policy.resolve_band`` of the fixed threshold, or the distance's chance level at
``drift.resolve_z`` when that is higher, so a noisy column (rare categories) is clean
whenever it is within its usual noise, and a drift near its threshold is not.

A Wasserstein distance fires only if it stays above its chance level with the window's
values beyond the reference's range moved to its edge: one extreme value of a
heavy-tailed feature moves the exact distance a lot (each value adds its distance past
the edge over the window's size), while a real change moves the bulk. The score reported
is still the exact distance; the extreme values are the ``out_of_range`` check's.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple, cast

import numpy as np

from monitor.drift import distances
from monitor.drift.distances import FloatArray
from monitor.drift.null_bands import NullBands
from monitor.findings import Finding
from monitor.settings import DriftSettings, DriftTest, FeatureOverrides
from monitor.stats.columns import ColumnSummary
from monitor.stats.numeric import NumericSummary
from schemas.alerts import AlertKind, Severity

__all__ = ["drift_findings", "multivariate_finding"]


class TestResult(NamedTuple):
    """One test over every column: one value each."""

    scores: FloatArray
    thresholds: FloatArray
    p_values: FloatArray | None
    breached: np.ndarray
    """``score >= threshold`` (and for Wasserstein, beyond chance within range too)."""
    resolve: FloatArray
    """Below this score the column is clean (hysteresis)."""


log = logging.getLogger("driftline.drift")


@lru_cache(maxsize=1024)  # once per message: a model's settings are told once, not per window
def _tell_once(message: str) -> None:
    log.warning(message)


@dataclass(frozen=True, eq=False)
class Continuous:
    """Numeric columns on their fine bins, for the statistics of the continuous data
    (Wasserstein, KS); the binned ones (PSI, Jensen-Shannon, chi-square) use the coarse
    counts."""

    reference: FloatArray
    """The reference's counts per fine bin (the same array every window: it keys caches)."""
    window: FloatArray
    positions: FloatArray
    """The reference's mean per fine bin."""
    window_positions: FloatArray
    """The window's mean per fine bin (the reference's where the window has none)."""
    std: FloatArray
    """The reference's standard deviation: the Wasserstein distance's unit."""
    within: FloatArray
    """The window's bin means moved into the reference's range."""

    @classmethod
    def of(cls, reference: NumericSummary, window: NumericSummary) -> "Continuous":
        """The fine bins of ``reference`` and ``window``."""
        positions = reference.means()
        window_positions = np.where(window.fine_counts > 0, window.means(), positions)
        return cls(
            cast(FloatArray, reference.fine_counts),  # counts: the distances take either
            cast(FloatArray, window.fine_counts),
            positions,
            window_positions,
            np.sqrt(reference.variance()),
            np.clip(window_positions, reference.bins.lo[:, None], reference.bins.hi[:, None]),
        )


def _run(
    test: DriftTest,
    reference: FloatArray,
    window: FloatArray,
    threshold: float | FloatArray,
    bands: NullBands,
    scale: Continuous | None,
    settings: DriftSettings,
    resolve_band: float,
) -> TestResult:
    if test in ("ks", "chi_square"):
        if test == "ks" and scale is not None:  # numeric: the fine bins, near-exact
            reference, window = scale.reference, scale.window
        run = distances.ks if test == "ks" else distances.chi_square
        statistic, p_value, critical = run(reference, window, threshold)
        return TestResult(
            statistic, critical, p_value, statistic >= critical, resolve_band * critical
        )
    distance: Callable[[FloatArray, FloatArray], FloatArray]
    if test == "psi":
        distance = distances.psi
    elif test == "jensen_shannon":
        distance = distances.jensen_shannon
    else:
        if scale is None:
            raise ValueError("wasserstein applies to numeric columns only")
        positions, std = scale.positions, scale.std

        def distance(ref: FloatArray, win: FloatArray) -> FloatArray:
            """Chance draws: both samples' bins at the reference's bin means."""
            repeats = ref.shape[0] // positions.shape[0]
            return distances.wasserstein(
                ref, win, np.tile(positions, (repeats, 1)), np.tile(std, repeats)
            )

        reference, window = scale.reference, scale.window
    sizes = window.sum(axis=1)
    chance = bands.level(test, distance, reference, sizes)
    resolve = np.maximum(
        resolve_band * threshold, bands.level(test, distance, reference, sizes, settings.resolve_z)
    )
    limit = np.maximum(threshold, chance)
    if scale is None or test != "wasserstein":
        observed = distance(reference, window)
        return TestResult(observed, limit, None, observed >= limit, resolve)
    observed = distances.wasserstein(reference, window, positions, std, scale.window_positions)
    within = distances.wasserstein(reference, window, positions, std, scale.within)
    breached = (observed >= limit) & (within >= chance)
    # within the reference's range it is back in its noise: clean, whatever outliers add
    return TestResult(observed, limit, None, breached, np.where(within < resolve, np.inf, resolve))


def drift_findings(
    kind: AlertKind,
    reference: ColumnSummary,
    window: ColumnSummary,
    settings: DriftSettings,
    bands: NullBands,
    features: FeatureOverrides | None = None,
    resolve_band: float = 0.5,
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
        scale = Continuous.of(ref, win)
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
            resolve_band,
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
            resolve_band,
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
    scale: Continuous | None,
    features: FeatureOverrides | None = None,
    resolve_band: float = 0.5,
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
        results[test] = _run(
            test, reference, window, threshold, bands, scale, settings, resolve_band
        )
    findings = []
    for j in np.flatnonzero(tested):
        details: dict[str, float] = {}
        chosen: tuple[DriftTest, TestResult, bool] | None = None
        for test in column_tests[j]:
            result = results[test]
            breached = bool(result.breached[j])
            details[test] = round(float(result.scores[j]), 6)
            if result.p_values is not None:
                details[f"{test}_p_value"] = float(result.p_values[j])
            if chosen is None or (breached and not chosen[2]):
                chosen = (test, result, breached)
        if chosen is None:  # a feature set to no tests
            continue
        test, result, breached = chosen
        score, threshold = float(result.scores[j]), float(result.thresholds[j])
        p_value = None if result.p_values is None else float(result.p_values[j])
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
                resolve_below=float(result.resolve[j]),
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
