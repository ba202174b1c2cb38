"""Data-quality checks of a window against its reference, column by column.

- ``missing_rate``: the share of missing values rose by ``quality.missing_increase``;
- ``type_mismatch``: values of another type than the reference's (a string in a numeric
  column, a number in a categorical one) reach ``quality.type_mismatch_share``;
- ``out_of_range``: numbers outside the reference's [min, max] reach
  ``quality.out_of_range_share`` (above the reference's own share, which is zero);
- ``new_category``: categories the reference did not have rose by
  ``quality.new_category_share``; the finding names the most frequent ones.

Each rise is measured over the reference's own share, so a feature that was often
missing in training is not alerted for staying so.
"""

from typing import Any

import numpy as np
import numpy.typing as npt

from monitor.findings import Finding
from monitor.settings import FeatureOverrides, QualitySettings
from monitor.stats.columns import ColumnSummary
from schemas.alerts import AlertKind, Severity

__all__ = ["quality_findings"]


def _share(part: npt.NDArray[np.int64], whole: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    return np.asarray(part / np.maximum(whole, 1), dtype=np.float64)


def quality_findings(
    reference: ColumnSummary,
    window: ColumnSummary,
    settings: QualitySettings,
    min_values: int,
    features: FeatureOverrides | None = None,
    breached_only: bool = False,
) -> list[Finding]:
    """Every quality check of every column with at least ``min_values`` values, but those
    ``features`` (a model's ``[features]`` settings) ignore, with the severity it sets;
    with ``breached_only``, only the breached ones (a pane's checks).

    >>> from monitor.reference.build import ProfileBuilder
    >>> from monitor.settings import ReferenceSettings
    >>> builder = ProfileBuilder("m", "1", ReferenceSettings())
    >>> for i in range(200):
    ...     builder.add({"age": float(i % 50)})
    >>> reference = builder.build().features
    >>> window = ColumnSummary(reference.layout)
    >>> window.update_rows([{"age": None if i % 3 == 0 else 20.0} for i in range(300)])
    >>> [(f.statistic, f.breached) for f in quality_findings(reference, window,
    ...     QualitySettings(), min_values=100)]
    [('missing_rate', True), ('type_mismatch', False), ('out_of_range', False)]
    >>> from monitor.settings import MonitorSettings
    >>> settings = MonitorSettings(features={"m": {"age": {"severity": "critical"}}})
    >>> [f.severity.value for f in quality_findings(reference, window, QualitySettings(),
    ...     min_values=100, features=settings.overrides("m")) if f.breached]
    ['critical']
    >>> settings = MonitorSettings(features={"*": {"age": {"ignore": True}}})
    >>> quality_findings(reference, window, QualitySettings(), min_values=100,
    ...     features=settings.overrides("m"))
    []
    >>> [f.statistic for f in quality_findings(reference, window, QualitySettings(),
    ...     min_values=100, breached_only=True)]
    ['missing_rate']
    """
    findings: list[Finding] = []
    layout = reference.layout
    for ref, win, names in (
        (reference.numeric, window.numeric, layout.numeric.names),
        (reference.categorical, window.categorical, layout.categorical.names),
    ):
        ref_total, win_total = ref.total, win.total
        checks = [
            (
                "missing_rate",
                _share(ref.missing, ref_total),
                _share(win.missing, win_total),
                settings.missing_increase,
            ),
            (
                "type_mismatch",
                _share(ref.mismatched, ref_total),
                _share(win.mismatched, win_total),
                settings.type_mismatch_share,
            ),
        ]
        if names is layout.numeric.names:
            checks.append(
                (
                    "out_of_range",
                    _share(reference.numeric.out_of_range, reference.numeric.count),
                    _share(window.numeric.out_of_range, window.numeric.count),
                    settings.out_of_range_share,
                )
            )
        else:
            ref_counts, win_counts = reference.categorical.counts, window.categorical.counts
            checks.append(
                (
                    "new_category",
                    _share(ref_counts[:, 0], ref_counts.sum(axis=1)),
                    _share(win_counts[:, 0], win_counts.sum(axis=1)),
                    settings.new_category_share,
                )
            )
        columns: Any = range(len(names))
        if breached_only:  # a pane's checks: only what breaches (most panes: nothing)
            breaching = np.zeros(len(names), dtype=np.bool_)
            for _, ref_share, win_share, rise in checks:
                breaching |= win_share >= ref_share + rise
            columns = np.flatnonzero(breaching & (win_total >= min_values)).tolist()
        for j in columns:
            name = names[j]
            entry = None if features is None else features.get(name)
            if win_total[j] < min_values or (entry is not None and entry.ignore):
                continue
            severity = (
                Severity.WARNING if entry is None or entry.severity is None else entry.severity
            )
            for statistic, ref_share, win_share, rise in checks:
                threshold = float(ref_share[j]) + rise
                if breached_only and float(win_share[j]) < threshold:
                    continue
                details: dict[str, Any] = {"reference_share": round(float(ref_share[j]), 6)}
                if statistic == "new_category":
                    details["new_categories"] = window.categorical.new_names[j]
                findings.append(
                    Finding(
                        kind=AlertKind.DATA_QUALITY,
                        subject=name,
                        statistic=statistic,
                        score=float(win_share[j]),
                        threshold=threshold,
                        breached=float(win_share[j]) >= threshold,
                        severity=severity,
                        details=details,
                    )
                )
    return findings
