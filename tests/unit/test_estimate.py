"""Label-free performance estimates (CBPE): the calibration, the window's score counts,
the estimates against their textbook formulas on raw data, and the alert kind."""

import json

import numpy as np
import pytest
from pydantic import ValidationError
from scipy.optimize import isotonic_regression

from monitor.cli.main import main
from monitor.core import Monitor
from monitor.performance.estimate import estimate_findings, estimated_accuracy, estimated_roc_auc
from monitor.reference.build import profile_columns
from monitor.reference.profile import ReferenceProfile, ReferenceSet
from monitor.settings import EstimateSettings, MonitorSettings, ReferenceSettings
from monitor.stats.calibration import Calibration, ScoreCounts
from monitor.stats.window import WindowSummary
from schemas.alerts import DEGRADATION_KINDS, AlertKind
from schemas.wire import WirePrediction


def _logistic(seed: int, n: int, spread: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """Scores of a calibrated logistic model (logit ~ N(0, spread)) and labels drawn
    from them."""
    rng = np.random.default_rng(seed)
    scores = 1.0 / (1.0 + np.exp(-rng.normal(0.0, spread, n)))
    return scores, rng.random(n) < scores


def _auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Mann-Whitney on every positive-negative pair, ties counted half."""
    pos, neg = scores[labels][:, None], scores[~labels][None, :]
    return float(((pos > neg) + 0.5 * (pos == neg)).mean())


# -- calibration ------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_calibration_is_isotonic_regression_of_the_labels_on_the_scores(seed: int) -> None:
    scores, labels = _logistic(seed, 150)  # fewer distinct scores than groups: exact
    order = np.argsort(scores)
    direct = np.empty(scores.size)
    direct[order] = isotonic_regression(labels[order].astype(float)).x
    calibration = Calibration.fit(scores, labels)
    np.testing.assert_allclose(calibration.calibrate(scores), direct, atol=1e-12)
    assert calibration.accuracy == np.mean((scores >= 0.5) == labels)
    assert calibration.roc_auc == pytest.approx(_auc(scores, labels), abs=1e-12)


def test_calibration_of_a_large_reference_is_compact_and_keeps_the_label_mean() -> None:
    scores, labels = _logistic(3, 50_000)
    calibration = Calibration.fit(scores, labels)
    order = np.argsort(scores)
    direct = np.empty(scores.size)
    direct[order] = isotonic_regression(labels[order].astype(float)).x
    calibrated = calibration.calibrate(scores)
    assert calibration.values.size <= 201
    assert 0.5 in calibration.edges.tolist()
    assert np.all(np.diff(calibration.values) >= 0)
    assert calibrated.sum() == pytest.approx(labels.sum())  # isotonic keeps the mean
    assert np.abs(calibrated - direct).mean() < 0.02
    assert (
        calibration.counts.tolist()
        == np.bincount(calibration.bin(scores), minlength=calibration.values.size).tolist()
    )
    again = Calibration.from_dict(json.loads(json.dumps(calibration.to_dict())))
    assert again.to_dict() == calibration.to_dict()


def test_ties_at_the_cut_are_positive_predictions() -> None:
    calibration = Calibration.fit([0.2, 0.5, 0.5, 0.8], [0, 1, 0, 1])
    assert calibration.positive[calibration.bin(np.array([0.5]))].tolist() == [True]
    assert calibration.accuracy == 0.75  # as loss() counts: 0.5 predicts positive


# -- score counts and the window summary -------------------------------------------------------


def test_score_counts_merge_as_one_count_and_leave_out_what_is_not_a_number() -> None:
    scores, labels = _logistic(4, 1000)
    calibration = Calibration.fit(scores, labels)
    values: list[object] = [*scores[:600].tolist(), None, "x", *scores[600:].tolist()]
    a, b, whole = ScoreCounts(calibration), ScoreCounts(calibration), ScoreCounts(calibration)
    a.update(values[:300])
    b.update(values[300:])
    whole.update(values)
    a += b
    assert a.counts.tolist() == whole.counts.tolist() == calibration.counts.tolist()
    assert a.events == 1000


def test_a_window_summary_carries_its_scores_through_merge_copy_and_json() -> None:
    scores, labels = _logistic(5, 500)
    profile = profile_columns(
        "m", "1", {"x": scores}, ReferenceSettings(), scores.tolist(), labels.tolist()
    )
    calibration = profile.calibration
    assert calibration is not None
    features = profile.features.layout
    prediction = profile.prediction.layout if profile.prediction else None
    a, b = WindowSummary(features, prediction, calibration), WindowSummary(features, prediction)
    rows = [{"x": s} for s in scores.tolist()]
    a.update(rows[:200], scores[:200].tolist(), [0.0] * 200)
    other = WindowSummary(features, prediction, calibration)
    other.update(rows[200:], scores[200:].tolist(), [1.0] * 300)
    a += other
    assert b.scores is None
    assert a.scores is not None
    assert a.scores.counts.tolist() == calibration.counts.tolist()
    copy = a.copy()
    copy += other
    assert a.scores.events == 500
    assert copy.scores is not None
    assert copy.scores.events == 800
    data = json.loads(json.dumps(a.to_dict()))
    again = WindowSummary.from_dict(features, prediction, data, calibration)
    assert again.scores is not None
    assert again.scores.counts.tolist() == a.scores.counts.tolist()
    del data["scores"]  # a checkpoint from before the estimates
    assert WindowSummary.from_dict(features, prediction, data, calibration).scores.events == 0  # type: ignore[union-attr]


# -- the reference profile ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("predictions", "labels", "calibrated"),
    [
        ([0.1, 0.9, 0.4, 0.7], [False, True, True, False], True),
        ([0.1, 0.9, 0.4, 0.7], [0.0, 1.0, 1.0, 0.0], True),
        ([0.1, 0.9, 0.4, 0.7], [0, 1, None, 0], True),
        ([0.1, 0.9, 0.4, 0.7], [True, True, True, True], False),  # one class
        ([0.1, 1.9, 0.4, 0.7], [0, 1, 1, 0], False),  # not a score
        ([0.1, 0.9, 0.4, 0.7], [0, 2, 1, 0], False),  # not a 0/1 label
        (["a", "b", "a", "b"], ["a", "b", "b", "a"], False),  # classes
        ([0.1, None, 0.4, 0.7], [0, 1, 1, 0], False),  # a missing score
    ],
)
def test_a_reference_is_calibrated_only_for_scores_with_binary_labels(
    predictions: list[object], labels: list[object], calibrated: bool
) -> None:
    profile = profile_columns(
        "m", "1", {"x": [1.0, 2.0, 3.0, 4.0]}, ReferenceSettings(), predictions, labels
    )  # type: ignore[arg-type]
    assert (profile.calibration is not None) is calibrated


def test_the_calibration_is_saved_hashed_and_absent_from_old_files() -> None:
    scores, labels = _logistic(6, 400)
    profile = profile_columns(
        "m", "1", {"x": scores}, ReferenceSettings(), scores.tolist(), labels.tolist()
    )
    data = json.loads(json.dumps(profile.to_dict()))
    again = ReferenceProfile.from_dict(data)
    assert again.calibration is not None
    assert profile.calibration is not None
    assert again.calibration.to_dict() == profile.calibration.to_dict()
    flipped = profile_columns(
        "m", "1", {"x": scores}, ReferenceSettings(), (1.0 - scores).tolist(), labels.tolist()
    )
    assert flipped.id != profile.id
    del data["calibration"]  # a file written before the estimates
    assert ReferenceProfile.from_dict(data).calibration is None
    plain = profile_columns("m", "1", {"x": scores}, ReferenceSettings())
    assert "calibration" not in json.dumps(plain.to_dict()).replace('"calibration": null', "")


# -- the estimates -----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_estimates_are_the_textbook_expectations_on_the_calibrated_scores(seed: int) -> None:
    scores, labels = _logistic(seed, 5000)
    calibration = Calibration.fit(scores, labels)
    window, _ = _logistic(seed + 100, 1500, spread=1.0)  # shifted: scores nearer 0.5
    p = calibration.calibrate(window)
    counts = ScoreCounts(calibration)
    counts.update(window.tolist())
    share = counts.counts / counts.events
    # accuracy: the chance each prediction (score >= 0.5) is right
    expected_accuracy = np.mean(np.where(window >= 0.5, p, 1.0 - p))
    assert estimated_accuracy(calibration, share)[0] == pytest.approx(expected_accuracy)
    # ROC AUC: every ordered pair weighted p_i (1 - p_j), equal calibrated p counted half
    pairs = p[:, None] * (1.0 - p)[None, :]
    above = (p[:, None] > p[None, :]) + 0.5 * (p[:, None] == p[None, :])
    expected_auc = (pairs * above).sum() / (p.sum() * (1.0 - p).sum())
    estimate = estimated_roc_auc(calibration, share)
    assert estimate is not None
    assert estimate[0] == pytest.approx(expected_auc)


def test_on_a_calibrated_model_the_accuracy_estimate_is_the_mean_confidence() -> None:
    scores, labels = _logistic(7, 50_000)
    calibration = Calibration.fit(scores, labels)
    window, _ = _logistic(8, 2000)
    counts = ScoreCounts(calibration)
    counts.update(window.tolist())
    value, _ = estimated_accuracy(calibration, counts.counts / counts.events)
    assert value == pytest.approx(np.mean(np.maximum(window, 1.0 - window)), abs=0.01)


@pytest.mark.parametrize("metric", ["accuracy", "roc_auc"])
def test_the_standard_error_is_the_spread_of_estimates_on_reference_windows(metric: str) -> None:
    scores, labels = _logistic(9, 20_000)
    calibration = Calibration.fit(scores, labels)
    rng = np.random.default_rng(10)
    settings = EstimateSettings(metrics=[metric])
    estimates, errors = [], []
    for _ in range(400):
        counts = ScoreCounts(calibration)
        counts.update(rng.choice(scores, 500).tolist())
        (finding,) = estimate_findings(calibration, counts, settings)
        estimates.append(finding.score)
        errors.append(finding.details["standard_error"])
    # the reported error also counts the reference's own (1 / 20,000 beside 1 / 500)
    window_only = np.mean(errors) * np.sqrt((1 / 500) / (1 / 500 + 1 / 20_000))
    assert np.std(estimates) == pytest.approx(window_only, rel=0.15)


def test_a_drop_fires_only_past_both_the_relative_change_and_z_errors() -> None:
    scores, labels = _logistic(11, 20_000)
    calibration = Calibration.fit(scores, labels)
    reference, _ = _logistic(12, 2000)
    shifted, _ = _logistic(13, 2000, spread=1.0)
    for window, breached in ((reference, False), (shifted, True)):
        counts = ScoreCounts(calibration)
        counts.update(window.tolist())
        findings = estimate_findings(calibration, counts, EstimateSettings())
        assert [(f.kind, f.subject, f.breached) for f in findings] == [
            (AlertKind.ESTIMATED_PERFORMANCE_DEGRADATION, "accuracy", breached),
            (AlertKind.ESTIMATED_PERFORMANCE_DEGRADATION, "roc_auc", breached),
        ]
        for f in findings:
            allowed = f.details["reference"] - f.threshold
            assert allowed == pytest.approx(
                max(0.05 * f.details["reference"], 4 * f.details["standard_error"]), abs=2e-6
            )
    counts = ScoreCounts(calibration)
    counts.update(shifted.tolist())
    assert not any(
        f.breached for f in estimate_findings(calibration, counts, EstimateSettings(min_change=0.5))
    )
    assert estimate_findings(calibration, counts, EstimateSettings(enabled=False)) == []
    assert estimate_findings(calibration, counts, EstimateSettings(min_scores=5000)) == []
    assert estimate_findings(None, None, EstimateSettings()) == []


def test_window_summaries_carry_the_estimates() -> None:
    scores, labels = _logistic(14, 5000)
    profile = profile_columns(
        "m", "1", {"x": scores}, ReferenceSettings(), scores.tolist(), labels.tolist()
    )
    monitor = Monitor(MonitorSettings(window={"size": 200, "hop": 100}), ReferenceSet([profile]))
    window, _ = _logistic(15, 300)
    events = [
        WirePrediction(str(i), "m", float(i), {"x": s}, "1", s)
        for i, s in enumerate(window.tolist())
    ]
    stats = monitor.process_predictions(events).stats
    last = window[100:]
    p = profile.calibration.calibrate(last)  # type: ignore[union-attr]
    assert [sorted(s.estimated_performance) for s in stats] == [["accuracy", "roc_auc"]] * 2
    assert stats[-1].estimated_performance["accuracy"] == pytest.approx(
        np.mean(np.where(last >= 0.5, p, 1.0 - p)), abs=1e-6
    )


# -- settings, schema and rendering -------------------------------------------------------------


def test_estimate_settings_name_the_bad_key() -> None:
    with pytest.raises(ValidationError, match=r"estimate\.metrics"):
        MonitorSettings(estimate={"metrics": ["f1"]})
    assert MonitorSettings().estimate.metrics == ["accuracy", "roc_auc"]


def test_the_alert_kind_is_a_degradation_on_the_schema(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """How the terminal shows it: tests/unit/test_render.py."""
    assert AlertKind.ESTIMATED_PERFORMANCE_DEGRADATION in DEGRADATION_KINDS
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert "estimated_performance_degradation" in json.dumps(schema["$defs"]["AlertKind"])
