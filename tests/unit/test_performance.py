"""Losses, the performance tracker (labels) and the metric tracker (MetricEvents)."""

import math

import numpy as np
import pytest

from monitor.performance.metric_tracker import MetricTracker
from monitor.performance.tracker import LossPane, PerformanceTracker, Verdict
from monitor.reference.profile import PerformanceBaseline
from monitor.settings import MetricSettings, PerformanceSettings
from monitor.stats.loss import infer_task, loss, predicted_class
from schemas.alerts import AlertKind

# -- loss -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prediction", "expected"),
    [("cat", "cat"), ({"cat": 0.2, "dog": 0.8}, "dog"), (0.3, None), (None, None)],
)
def test_predicted_class(prediction: object, expected: str | None) -> None:
    assert predicted_class(prediction) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("prediction", "label", "task"),
    [
        (0.83, True, "classification"),
        (0.83, 1.0, "classification"),
        (0.2, 0.0, "classification"),
        ("cat", "dog", "classification"),
        ({"a": 0.4, "b": 0.6}, "a", "classification"),
        (12.5, 14.0, "regression"),
        (0.5, 0.7, "regression"),  # a label that is not 0/1 on a score
        (1.5, 1.0, "regression"),  # a prediction outside [0, 1]
    ],
)
def test_infer_task(prediction: object, label: object, task: str) -> None:
    assert infer_task(prediction, label) == task  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("prediction", "label", "task", "expected"),
    [
        (0.83, True, "classification", 0.0),
        (0.5, True, "classification", 0.0),  # 0.5 counts as positive
        (0.49, True, "classification", 1.0),
        (0.2, 1.0, "classification", 1.0),
        (0.2, 0.0, "classification", 0.0),
        (0.2, "cat", "classification", None),
        ("cat", "cat", "classification", 0.0),
        ("cat", "dog", "classification", 1.0),
        ({"a": 0.1, "b": 0.9}, "b", "classification", 0.0),
        ("1", 1.0, "classification", 0.0),  # a numeric label names class "1"
        ("true", True, "classification", 0.0),
        (None, True, "classification", None),
        (10.0, 12.5, "regression", 2.5),
        (10.0, 7.0, "regression", 3.0),
        ("a", 3.5, "regression", None),
        (10.0, True, "regression", None),
    ],
)
def test_loss(prediction: object, label: object, task: str, expected: float | None) -> None:
    assert loss(prediction, label, task) == expected  # type: ignore[arg-type]


# -- performance tracker ----------------------------------------------------------------------

CHANGE = 1000


def _classifier_stream(seed: int, before: float, after: float, n: int = 2000) -> list[bool]:
    """Whether each prediction is right: accuracy ``before`` until CHANGE, then ``after``."""
    rng = np.random.default_rng(seed)
    accuracy = np.where(np.arange(n) < CHANGE, before, after)
    return [bool(right) for right in rng.random(n) < accuracy]


def _feed(tracker: PerformanceTracker, right: list[bool]) -> list[Verdict]:
    verdicts = []
    for i, ok in enumerate(right):
        verdicts += tracker.add("a", "a" if ok else "b", float(i))
    return verdicts


SETTINGS = PerformanceSettings(window=200, hop=100, baseline_events=300, detector="none")
BASELINE = PerformanceBaseline("classification", loss_mean=0.1, loss_var=0.09, events=1000)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_degradation_is_found_against_a_reference_baseline(seed: int) -> None:
    tracker = PerformanceTracker(SETTINGS, BASELINE)
    verdicts = _feed(tracker, _classifier_stream(seed, 0.9, 0.6))
    assert len(verdicts) == 2000 // 100 - 1  # from the first full window on
    assert all(v.window.count == 200 for v in verdicts)
    before = [v for v in verdicts if v.window.end < CHANGE]
    after = [v for v in verdicts if v.window.start >= CHANGE]
    assert len(before) == 9
    assert len(after) == 9
    assert not any(v.finding.breached for v in before)
    assert all(v.finding.breached for v in after)
    finding = after[-1].finding
    assert (finding.kind, finding.subject, finding.statistic) == (
        AlertKind.PERFORMANCE_DEGRADATION,
        "accuracy",
        "accuracy",
    )
    assert finding.score == pytest.approx(0.6, abs=0.1)
    assert finding.threshold < 0.9
    assert finding.details["baseline"] == 0.9
    assert finding.details["baseline_events"] == 1000
    assert tracker.last is verdicts[-1]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_steady_model_never_degrades(seed: int) -> None:
    tracker = PerformanceTracker(SETTINGS, BASELINE)
    verdicts = _feed(tracker, _classifier_stream(seed, 0.9, 0.9, n=4000))
    assert len(verdicts) == 39
    assert not any(v.finding.breached for v in verdicts)


def test_improvement_is_not_degradation() -> None:
    tracker = PerformanceTracker(SETTINGS, BASELINE)
    verdicts = _feed(tracker, _classifier_stream(3, 0.9, 1.0))
    assert not any(v.finding.breached for v in verdicts)


def test_baseline_from_warm_up_labels() -> None:
    right = _classifier_stream(4, 0.8, 0.8)
    tracker = PerformanceTracker(SETTINGS)
    assert tracker.task is None
    verdicts = _feed(tracker, right)
    assert tracker.task == "classification"
    baseline = tracker.baseline
    assert baseline is not None
    assert baseline.events == 300
    warm = np.array([0.0 if ok else 1.0 for ok in right[:300]])
    assert baseline.loss_mean == pytest.approx(warm.mean())
    assert baseline.loss_var == pytest.approx(warm.var(ddof=1))
    # windows start after the warm-up: the first one ends with label 300 + 200
    assert verdicts[0].window.start == 300.0
    assert verdicts[0].window.end == 499.0
    assert len(verdicts) == (2000 - 300) // 100 - 1


def _regression_stream(seed: int, noise_after: float, n: int = 2000) -> list[tuple[float, float]]:
    rng = np.random.default_rng(seed)
    truth = rng.normal(50.0, 10.0, size=n)
    noise = rng.normal(0.0, np.where(np.arange(n) < CHANGE, 1.0, noise_after))
    return list(zip((truth + noise).tolist(), truth.tolist(), strict=True))


def test_regression_mae_degradation() -> None:
    tracker = PerformanceTracker(SETTINGS)
    verdicts = []
    for i, (prediction, label) in enumerate(_regression_stream(5, 3.0)):
        verdicts += tracker.add(prediction, label, float(i))
    assert tracker.task == "regression"
    assert tracker.baseline is not None
    assert tracker.baseline.metric == "mae"
    assert tracker.baseline.value == pytest.approx(math.sqrt(2 / math.pi), rel=0.15)
    before = [v for v in verdicts if v.window.end < CHANGE]
    after = [v for v in verdicts if v.window.start >= CHANGE]
    assert before
    assert not any(v.finding.breached for v in before)
    assert after
    assert all(v.finding.breached for v in after)
    finding = after[0].finding
    assert finding.subject == "mae"
    assert finding.score == pytest.approx(3.0 * math.sqrt(2 / math.pi), rel=0.15)
    assert finding.threshold > tracker.baseline.value
    assert finding.details["rmse"] == pytest.approx(3.0, rel=0.15)


def test_a_detection_inside_a_degraded_window_fires_at_once() -> None:
    right = _classifier_stream(6, 0.95, 0.5)
    with_detector = PerformanceTracker(PerformanceSettings(window=200, hop=100), BASELINE)
    verdicts = _feed(with_detector, right)
    breached = [v for v in verdicts if v.finding.breached]
    assert breached
    assert all(v.window.end >= CHANGE for v in breached)
    assert any(v.finding.immediate for v in breached)
    assert all(v.finding.details["detections"] == v.window.detections for v in verdicts)
    assert not any(v.finding.immediate for v in verdicts if not v.finding.breached)

    without = PerformanceTracker(SETTINGS, BASELINE)
    assert not any(v.finding.immediate for v in _feed(without, right))


def test_labels_that_cannot_be_scored_are_skipped() -> None:
    tracker = PerformanceTracker(SETTINGS, BASELINE)
    assert tracker.add(0.7, "cat", 0.0) == []  # a score and a class name: no 0/1 loss
    assert tracker.skipped == 1


def test_windows_hold_the_configured_number_of_labels() -> None:
    try:
        settings = PerformanceSettings(window=500, hop=200, detector="none")
    except ValueError:  # refusing a hop that does not divide the window is fine too
        return
    tracker = PerformanceTracker(settings, BASELINE)
    verdicts = _feed(tracker, [True] * 2000)
    assert {v.window.count for v in verdicts} == {500}


def test_loss_panes_merge_exactly() -> None:
    values = np.random.default_rng(8).random(50)
    whole, first, second = LossPane(), LossPane(), LossPane()
    for i, value in enumerate(values):
        whole.add(float(value), float(i))
        (first if i < 20 else second).add(float(value), float(i))
    merged = first.copy()
    merged += second
    merged += LossPane()  # an empty pane changes nothing
    assert (merged.count, merged.start, merged.end) == (50, 0.0, 49.0)
    assert merged.mean == pytest.approx(values.mean())
    assert merged.variance == pytest.approx(values.var())
    assert first.count == 20  # copy() is independent
    assert (LossPane().mean, LossPane().variance) == (0.0, 0.0)


# -- metric tracker ---------------------------------------------------------------------------


def _metric_findings(values: list[float], settings: MetricSettings) -> list[object]:
    tracker = MetricTracker("latency_ms", settings)
    return [tracker.add(v, float(i)) for i, v in enumerate(values)]


METRICS = MetricSettings(baseline=50, window=20)


def test_metric_baseline_then_a_finding_per_value() -> None:
    values = np.random.default_rng(9).normal(100.0, 5.0, size=100).tolist()
    findings = _metric_findings(values, METRICS)
    assert findings[: 50 + 19] == [None] * 69
    assert all(f is not None for f in findings[69:])
    assert not any(f.breached for f in findings[69:])  # type: ignore[attr-defined]


@pytest.mark.parametrize(("shift", "above"), [(60.0, True), (-60.0, False)])
def test_metric_shift_either_way_is_found(shift: float, above: bool) -> None:
    rng = np.random.default_rng(10)
    values = rng.normal(100.0, 5.0, size=150) + np.where(np.arange(150) >= 100, shift, 0.0)
    findings = [f for f in _metric_findings(values.tolist(), METRICS) if f is not None]
    by_end = dict(enumerate(findings, start=69))  # index of the value that closed it
    assert not any(f.breached for i, f in by_end.items() if i < 100)  # type: ignore[attr-defined]
    assert all(f.breached for i, f in by_end.items() if i >= 119)  # type: ignore[attr-defined]
    last = findings[-1]
    assert last.kind == AlertKind.METRIC_DEGRADATION  # type: ignore[attr-defined]
    assert last.subject == "latency_ms"  # type: ignore[attr-defined]
    assert (last.threshold > 100.0) == above  # type: ignore[attr-defined]
    assert last.score == pytest.approx(100.0 + shift, abs=5.0)  # type: ignore[attr-defined]
    assert last.details["baseline_values"] == 50  # type: ignore[attr-defined]


def test_metric_window_start_is_its_oldest_value() -> None:
    tracker = MetricTracker("m", MetricSettings(baseline=2, window=3))
    for i, value in enumerate([1.0, 2.0, 1.0, 2.0, 1.0, 2.0]):
        tracker.add(value, 10.0 * i)
    assert tracker.start == 30.0
    assert [v for v, _ in tracker.recent] == [2.0, 1.0, 2.0]


def test_a_metric_leaving_a_constant_zero_baseline_is_found() -> None:
    findings = _metric_findings([0.0] * 50 + [100.0] * 20, METRICS)
    assert findings[-1] is not None
    assert findings[-1].breached  # type: ignore[attr-defined]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_batches_of_labels_give_the_verdicts_of_labels_one_by_one(seed: int) -> None:
    rng = np.random.default_rng(seed)
    settings = PerformanceSettings(window=200, hop=100, baseline_events=300)
    size = 3000
    error_rate = np.where(np.arange(size) < 1500, 0.1, 0.35)  # degrades half-way
    predictions = rng.random(size).round(3).tolist()
    labels: list[object] = [
        (p >= 0.5) != bool(wrong)
        for p, wrong in zip(predictions, rng.random(size) < error_rate, strict=True)
    ]
    labels[::97] = ["not a flag"] * len(labels[::97])  # no loss: skipped
    ts = np.arange(size, dtype=np.float64).tolist()
    one_by_one = PerformanceTracker(settings)
    expected = [
        v
        for p, label, t in zip(predictions, labels, ts, strict=True)
        for v in one_by_one.add(p, label, t)  # type: ignore[arg-type]
    ]
    batched = PerformanceTracker(settings)
    cuts = sorted(rng.choice(np.arange(1, size), 40, replace=False).tolist())
    got = []
    for start, stop in zip([0, *cuts], [*cuts, size], strict=True):
        got += batched.add_many(predictions[start:stop], labels[start:stop], ts[start:stop])  # type: ignore[arg-type]
    assert [v.finding for v in got] == [v.finding for v in expected]
    assert [v.window for v in got] == [v.window for v in expected]
    assert any(v.finding.breached for v in got)
    assert not any(v.finding.breached for v in got if v.window.end < 1500)
    assert batched.skipped == one_by_one.skipped == len(labels[::97])
