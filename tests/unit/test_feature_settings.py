"""Per-feature settings: lookup, validation, and the effect of each on findings."""

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError
from scipy import stats

from monitor.drift import checks
from monitor.drift.batch import DriftCheck
from monitor.drift.checks import drift_findings
from monitor.drift.null_bands import NullBands
from monitor.drift.quality import quality_findings
from monitor.errors import ConfigError
from monitor.model_monitor import ModelMonitor
from monitor.reference.build import ProfileBuilder, build_reference_set, profile_columns
from monitor.reference.io import read_reference
from monitor.reference.profile import ReferenceSet
from monitor.settings import (
    DriftSettings,
    FeatureOverrides,
    MonitorSettings,
    QualitySettings,
    ReferenceSettings,
    load_settings,
)
from monitor.stats.columns import ColumnSummary
from monitor.stats.numeric import NumericBins
from schemas.alerts import AlertKind, Severity
from schemas.wire import WirePrediction

ROWS = 4000


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No DRIFTLINE_* variable of the machine running the tests leaks in."""
    for name in list(os.environ):
        if name.startswith("DRIFTLINE_"):
            monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def tell_again() -> None:
    """Each test sees the log lines that are told once per process."""
    checks._tell_once.cache_clear()


def _toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "driftline.toml"
    path.write_text(text)
    return path


# lookup


def test_the_models_own_entry_wins_field_by_field_over_the_star() -> None:
    settings = MonitorSettings(
        features={
            "*": {"amount": {"bins": 50, "severity": "warning"}, "request_id": {"ignore": True}},
            "fraud-scorer": {"amount": {"severity": "critical", "tests": ["ks"]}},
        }
    )
    fraud = settings.overrides("fraud-scorer")
    amount = fraud.get("amount")
    assert amount is not None
    assert (amount.bins, amount.severity, amount.tests) == (50, Severity.CRITICAL, ["ks"])
    assert fraud.ignored == {"request_id"}
    churn = settings.overrides("churn").get("amount")
    assert churn is not None
    assert (churn.bins, churn.severity, churn.tests) == (50, Severity.WARNING, None)
    assert settings.overrides("churn").get("age") is None
    assert MonitorSettings().overrides("churn").features == {}


def test_a_toml_file_sets_features(tmp_path: Path) -> None:
    path = _toml(
        tmp_path,
        """
[features."fraud-scorer".amount]
tests = ["ks", "wasserstein"]
thresholds = { ks = 0.01 }
bins = 50
severity = "critical"

[features."*".request_id]
ignore = true
""",
    )
    overrides = load_settings(path).overrides("fraud-scorer")
    amount = overrides.get("amount")
    assert amount is not None
    assert (amount.tests, amount.thresholds, amount.bins) == (
        ["ks", "wasserstein"],
        {"ks": 0.01},
        50,
    )
    assert amount.severity == Severity.CRITICAL
    assert overrides.ignored == {"request_id"}


def test_environment_variables_set_features(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRIFTLINE_FEATURES__fraud-scorer__amount__bins", "30")
    assert load_settings(None).overrides("fraud-scorer").bins == {"amount": 30}
    monkeypatch.delenv("DRIFTLINE_FEATURES__fraud-scorer__amount__bins")
    # variable names are read case-insensitively (lowercased); JSON keeps names as written
    monkeypatch.setenv("DRIFTLINE_FEATURES", '{"*": {"Request_ID": {"ignore": true}}}')
    assert load_settings(None).overrides("m").ignored == {"Request_ID"}


# validation


def test_a_bad_feature_variable_names_the_key_and_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DRIFTLINE_FEATURES__m__amount__bins", "one")
    with pytest.raises(ConfigError) as caught:
        load_settings(None)
    assert "features.m.amount.bins" in str(caught.value)
    assert "DRIFTLINE_FEATURES__m__amount__bins" in str(caught.value)


def test_a_threshold_given_for_the_feature_satisfies_its_test() -> None:
    drift = DriftSettings(thresholds={"psi": 0.2, "wasserstein": 0.1, "jensen_shannon": 0.07})
    settings = MonitorSettings(
        drift=drift, features={"m": {"x": {"tests": ["ks"], "thresholds": {"ks": 0.01}}}}
    )
    assert settings.overrides("m").features["x"].thresholds == {"ks": 0.01}
    with pytest.raises(ValueError, match=r"features\.\*\.x\.tests: no threshold for \['ks'\]"):
        FeatureOverrides.checked({"x": {"tests": ["ks"]}}, drift)


def test_drift_check_names_a_bad_feature_key() -> None:
    with pytest.raises(ValidationError, match=r"amount\.treshold"):
        DriftCheck({"amount": np.arange(500.0)}, features={"amount": {"treshold": 0.2}})


# effects, on seeded data


def _profile(rng: np.random.Generator, names: list[str]) -> ColumnSummary:
    columns = {name: rng.normal(0.0, 1.0, ROWS) for name in names}
    return profile_columns("m", "1", columns, ReferenceSettings()).features


def _window(
    reference: ColumnSummary, rng: np.random.Generator, shifts: dict[str, float]
) -> ColumnSummary:
    window = ColumnSummary(reference.layout)
    window.update_columns({name: rng.normal(shift, 1.0, 1000) for name, shift in shifts.items()})
    return window


def _findings(features: dict[str, Any], shifts: dict[str, float], seed: int = 3) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    reference = _profile(rng, sorted(shifts))
    window = _window(reference, rng, shifts)
    overrides = MonitorSettings(features={"m": features}).overrides("m")
    found = drift_findings(
        AlertKind.FEATURE_DRIFT, reference, window, DriftSettings(), NullBands(4.0), overrides
    )
    return {f.subject: f for f in found}


def test_tests_of_a_feature_replace_its_types() -> None:
    found = _findings({"a": {"tests": ["ks"]}}, {"a": 0.0, "b": 0.0})
    assert found["a"].statistic == "ks"
    assert set(found["a"].details) == {"ks", "ks_p_value"}
    assert set(found["b"].details) == {"wasserstein", "psi"}


def test_thresholds_of_a_feature_apply_to_it_alone() -> None:
    found = _findings({"a": {"thresholds": {"wasserstein": 0.5}}}, {"a": 0.3, "b": 0.3})
    assert (found["a"].threshold, found["a"].breached) == (0.5, False)
    assert found["b"].breached
    assert found["b"].threshold < 0.5


def test_a_features_p_value_threshold_gives_the_ks_critical_value() -> None:
    features = {
        "a": {"tests": ["ks"], "thresholds": {"ks": 0.2}},
        "b": {"tests": ["ks"], "thresholds": {"ks": 1e-6}},
    }
    found = _findings(features, {"a": 0.0, "b": 0.0, "c": 0.0})
    n, m = ROWS, 1000
    for name, alpha in (("a", 0.2), ("b", 1e-6)):
        # the asymptotic critical value of the two-sample statistic at alpha
        expected = stats.kstwobign.isf(alpha) / np.sqrt(n * m / (n + m))
        assert found[name].threshold == pytest.approx(expected, rel=1e-9)
    assert found["c"].statistic == "wasserstein"


def test_severity_of_a_feature_is_fixed() -> None:
    found = _findings(
        {"a": {"severity": "critical"}, "b": {"severity": "warning"}},
        {"a": 0.0, "b": 2.0, "c": 2.0},
    )
    assert (found["a"].breached, found["a"].severity) == (False, Severity.CRITICAL)
    assert (found["b"].breached, found["b"].severity) == (True, Severity.WARNING)
    assert (found["c"].breached, found["c"].severity) == (True, Severity.CRITICAL)


def test_a_feature_with_no_tests_has_no_drift_finding() -> None:
    assert set(_findings({"a": {"tests": []}}, {"a": 1.0, "b": 0.0})) == {"b"}


def test_wasserstein_on_a_categorical_feature_is_told_once_and_skipped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rng = np.random.default_rng(5)
    reference = profile_columns(
        "m", "1", {"c": rng.choice(["x", "y", "z"], ROWS)}, ReferenceSettings()
    ).features
    window = ColumnSummary(reference.layout)
    window.update_columns({"c": rng.choice(["x", "y", "z"], 1000, p=[0.6, 0.2, 0.2])})
    overrides = MonitorSettings(features={"m": {"c": {"tests": ["wasserstein", "psi"]}}}).overrides(
        "m"
    )
    with caplog.at_level(logging.WARNING, "driftline.drift"):
        for _ in range(2):
            (finding,) = drift_findings(
                AlertKind.FEATURE_DRIFT,
                reference,
                window,
                DriftSettings(),
                NullBands(4.0),
                overrides,
            )
            assert (finding.statistic, set(finding.details)) == ("psi", {"psi"})
    told = [r.getMessage() for r in caplog.records if "wasserstein" in r.getMessage()]
    assert len(told) == 1
    assert "m/c" in told[0]
    assert "categorical" in told[0]


def _events(rng: np.random.Generator, n: int, shifts: dict[str, float]) -> list[WirePrediction]:
    """Events 0..n of model m: a, b and skip drawn from N(shift, 1); ``skip`` is missing in
    every other event when it is shifted."""
    events = []
    for i in range(n):
        features: dict[str, float | None] = {
            name: float(rng.normal(shifts.get(name, 0.0))) for name in ("a", "b", "skip")
        }
        if shifts.get("skip") and i % 2:
            features["skip"] = None
        events.append(WirePrediction(str(i), "m", float(i), features))
    return events


def test_an_ignored_feature_is_left_out_of_every_finding(caplog: pytest.LogCaptureFixture) -> None:
    """``skip`` drifts and half its values go missing; with ``a`` drifting, it would also
    make the multivariate share 2 of 3."""
    settings = MonitorSettings(
        window={"size": 1000, "hop": 500},
        reference={"warmup_events": 2000},
        features={"*": {"skip": {"ignore": True}}},
    )
    rng = np.random.default_rng(11)
    events = _events(rng, 2000, {}) + _events(rng, 2000, {"a": 2.0, "skip": 3.0})
    with caplog.at_level(logging.WARNING, "driftline.drift"):
        monitor = ModelMonitor("m", "1", None, settings)
        tested = monitor.add(events, [float(i) for i in range(len(events))])
    plain = ModelMonitor("m", "1", None, MonitorSettings(**_without_features(settings)))
    control = plain.add(events, [float(i) for i in range(len(events))])
    last, last_control = tested[-1].findings, control[-1].findings
    assert not [f for f in last if f.subject == "skip"]
    assert {f.kind for f in last_control if f.subject == "skip" and f.breached} == {
        AlertKind.FEATURE_DRIFT,
        AlertKind.DATA_QUALITY,
    }
    (multivariate,) = [f for f in last if f.kind == AlertKind.MULTIVARIATE_DRIFT]
    assert multivariate.details == {"drifting": ["a"], "tested": 2}
    told = [r.getMessage() for r in caplog.records if "left out" in r.getMessage()]
    assert told == [
        "m: features ['skip'] are left out of drift, quality and multivariate findings "
        "(ignore = true in [features])"
    ]


def _without_features(settings: MonitorSettings) -> dict[str, Any]:
    return settings.model_dump(exclude={"features"})


def test_quality_findings_skip_ignored_features_and_take_their_severity() -> None:
    builder = ProfileBuilder("m", "1", ReferenceSettings())
    for i in range(300):
        builder.add({"a": float(i % 50), "b": float(i % 50)})
    reference = builder.build().features
    window = ColumnSummary(reference.layout)
    window.update_rows([{"a": None, "b": None} if i % 2 else {} for i in range(300)])
    overrides = MonitorSettings(
        features={"m": {"a": {"ignore": True}, "b": {"severity": "critical"}}}
    ).overrides("m")
    plain = quality_findings(reference, window, QualitySettings(), 100)
    assert {f.subject for f in plain if f.breached} == {"a", "b"}
    found = quality_findings(reference, window, QualitySettings(), 100, overrides)
    assert {f.subject for f in found} == {"b"}
    assert {f.severity for f in found} == {Severity.CRITICAL}


# bins


def test_numeric_bins_take_one_count_per_column() -> None:
    values = np.random.default_rng(2).normal(size=(1000, 2))
    bins = NumericBins.from_quantiles(["a", "b"], values, [4, 10])
    for j, count in enumerate((4, 10)):
        expected = np.quantile(values[:, j], np.linspace(0, 1, count + 1)[1:-1])
        np.testing.assert_array_equal(bins.edges[j], expected)
    with pytest.raises(ValueError, match="at least 2"):
        NumericBins.from_quantiles(["a", "b"], values, [4, 1])


def _widths(summary: ColumnSummary) -> dict[str, int]:
    bins = summary.layout.numeric
    return {name: len(e) + 1 for name, e in zip(bins.names, bins.edges, strict=True)}


def test_bins_of_a_feature_reach_every_reference_builder(tmp_path: Path) -> None:
    settings = MonitorSettings(
        reference={"warmup_events": 1000},
        window={"size": 500, "hop": 250},
        features={"*": {"a": {"bins": 7}}, "m": {"b": {"bins": 40}}},
    )
    rng = np.random.default_rng(4)
    events = _events(rng, 1500, {})
    # a model's first events, also across a checkpoint taken while they are collected
    monitor = ModelMonitor("m", "1", None, settings)
    monitor.add(events[:400], [e.ts for e in events[:400]])
    monitor = ModelMonitor.from_dict(monitor.to_dict(), settings, ReferenceSet([]))
    monitor.add(events[400:], [e.ts for e in events[400:]])
    assert monitor.profile is not None
    assert _widths(monitor.profile.features) == {"a": 7, "b": 40, "skip": 20}
    # a raw reference: by model, and "*" for another model
    rows = [("m", "1", e.features, None, None) for e in events]
    rows += [("other", "1", e.features, None, None) for e in events]
    built = build_reference_set(rows, settings.reference, settings.features)
    assert _widths(built.profiles[("m", "1")].features) == {"a": 7, "b": 40, "skip": 20}
    assert _widths(built.profiles[("other", "1")].features) == {"a": 7, "b": 20, "skip": 20}
    # a CSV, one profile for every model: the bins set under "*"
    csv = tmp_path / "ref.csv"
    csv.write_text("a,b\n" + "".join(f"{e.features['a']},{e.features['b']}\n" for e in events))
    (profile,) = read_reference(csv, settings.reference, settings.features).profiles.values()
    assert _widths(profile.features) == {"a": 7, "b": 20}


def test_drift_check_bins_and_ignores_features() -> None:
    rng = np.random.default_rng(6)
    reference = {"a": rng.normal(size=ROWS), "b": rng.normal(size=ROWS)}
    check = DriftCheck(reference, features={"a": {"bins": 12}, "b": {"ignore": True}})
    assert _widths(check.profile.features) == {"a": 12, "b": 20}
    found = check.test({"a": rng.normal(1.0, 1.0, 1000), "b": rng.normal(1.0, 1.0, 1000)})
    assert [(f.subject, f.breached) for f in found] == [("a", True)]
