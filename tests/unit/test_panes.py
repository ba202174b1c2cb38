"""Pane checks, sequential tests and window findings merged into one per subject."""

import numpy as np

from monitor.drift.panes import PaneTests
from monitor.findings import Finding
from monitor.reference.build import profile_columns
from monitor.settings import MonitorSettings, ReferenceSettings
from monitor.stats.columns import ColumnSummary
from schemas.alerts import AlertKind

RNG = np.random.default_rng(5)
REFERENCE = profile_columns(
    "m",
    "1",
    {"x": RNG.normal(size=20_000), "c": RNG.choice(["a", "b"], 20_000)},
    ReferenceSettings(),
).features


def _pane(shift: float = 0.0, missing: float = 0.0, n: int = 250) -> ColumnSummary:
    values = RNG.normal(shift, 1.0, n)
    values[RNG.random(n) < missing] = np.nan
    summary = ColumnSummary(REFERENCE.layout)
    summary.update_columns({"x": values, "c": RNG.choice(["a", "b"], n)})
    return summary


def _drift(score: float, threshold: float = 0.1, subject: str = "x") -> Finding:
    breached = score >= threshold
    details = {"wasserstein": score}
    return Finding(
        AlertKind.FEATURE_DRIFT, subject, "wasserstein", score, threshold, breached, details=details
    )


def test_a_quiet_pane_gives_nothing_and_a_gross_change_fires_at_once() -> None:
    tests = PaneTests(REFERENCE, MonitorSettings())
    assert tests.close(_pane(), None) == []
    missing = tests.close(_pane(missing=0.4), None)
    assert [(f.statistic, f.breached, f.immediate) for f in missing] == [
        ("missing_rate", True, True)
    ]


def test_window_findings_hold_above_the_resolve_band() -> None:
    tests = PaneTests(REFERENCE, MonitorSettings(policy={"resolve_band": 0.5}))
    merged = tests.close(_pane(), [_drift(0.06), _drift(0.04, subject="c")])
    holds = {f.subject: (f.breached, f.hold) for f in merged}
    assert holds == {"x": (False, True), "c": (False, False)}


def test_an_alarmed_sequential_test_holds_a_clean_window_and_adds_its_scores() -> None:
    tests = PaneTests(REFERENCE, MonitorSettings())
    fired = tests.close(_pane(shift=1.0), None)
    assert [(f.subject, f.breached) for f in fired] == [("x", True)]
    # some panes later: the CUSUM fell below h, the return is not proven yet
    tests.cusum.statistics[:, 0] = [3.0, 0.0, 0.0, 0.0]
    tests.cusum.returns[:, 0] = 0.0
    merged = tests.close(_pane(), [_drift(0.01)])
    (x,) = [f for f in merged if f.subject == "x"]
    assert x.statistic == "wasserstein"
    assert (x.breached, x.hold) == (False, True)  # still alarmed: no evidence of the return yet
    assert {"wasserstein", "cusum_location", "cusum_scale"} <= x.details.keys()


def test_the_stronger_breach_wins_the_merge() -> None:
    tests = PaneTests(REFERENCE, MonitorSettings())
    merged = tests.close(_pane(shift=3.0), [_drift(0.15)])
    (x,) = [f for f in merged if f.kind == AlertKind.FEATURE_DRIFT and f.subject == "x"]
    assert x.statistic in ("location", "scale")  # 2h / h beats 0.15 / 0.1
    assert x.breached
    assert x.immediate


def test_features_switched_off_get_no_sequential_test() -> None:
    settings = MonitorSettings(features={"m": {"x": {"sequential": False}}})
    tests = PaneTests(REFERENCE, settings, settings.overrides("m"))
    assert tests.close(_pane(shift=1.0), None) == []
    ignored = MonitorSettings(features={"*": {"x": {"ignore": True}}})
    tests = PaneTests(REFERENCE, ignored, ignored.overrides("m"))
    assert tests.close(_pane(shift=3.0, missing=0.5), None) == []
