"""Losses, the performance tracker (labels) and the metric tracker (MetricEvents)."""

import json
import math

import numpy as np
import pytest

from monitor.findings import Finding
from monitor.performance.metric_tracker import MetricTracker
from monitor.performance.tracker import LossPane, PerformanceTracker, Verdict
from monitor.reference.profile import PerformanceBaseline
from monitor.settings import MetricSettings, PerformanceSettings
from monitor.stats.loss import infer_task, predicted_class
from monitor.stats.metrics import confusion, event_losses
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
    ("prediction", "label", "metric", "expected"),
    [
        (0.83, True, "accuracy", 0.0),
        (0.5, True, "accuracy", 0.0),  # 0.5 counts as positive
        (0.49, True, "accuracy", 1.0),
        (0.2, 1.0, "accuracy", 1.0),
        (0.2, 0.0, "accuracy", 0.0),
        (0.2, "cat", "accuracy", None),
        ("cat", "cat", "accuracy", 0.0),
        ("cat", "dog", "accuracy", 1.0),
        ({"a": 0.1, "b": 0.9}, "b", "accuracy", 0.0),
        ("1", 1.0, "accuracy", 0.0),  # a numeric label names class "1"
        ("true", True, "accuracy", 0.0),
        (None, True, "accuracy", None),
        (10.0, 12.5, "mae", 2.5),
        (10.0, 7.0, "mae", 3.0),
        (10.0, 7.0, "rmse", 9.0),  # squared error
        ("a", 3.5, "mae", None),
        (10.0, True, "mae", None),
        ("cat", "cat", "log_loss", None),  # a class name has no probability
    ],
)
def test_event_loss(prediction: object, label: object, metric: str, expected: float | None) -> None:
    got = event_losses(metric, [prediction], [label])[0]  # type: ignore[arg-type, list-item]
    assert math.isnan(got) if expected is None else got == expected, got


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


def _accuracy(verdicts: list[Verdict]) -> list[Finding]:
    return [f for v in verdicts for f in v.findings if f.subject == "accuracy"]


WINDOWS = PerformanceSettings(window=200, hop=100, baseline_events=300, detector="none")
SETTINGS = PerformanceSettings(window=200, hop=100, baseline_events=300)
BASELINE = PerformanceBaseline("classification", loss_mean=0.1, loss_var=0.09, events=1000)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_window_test_finds_degradation_against_a_reference_baseline(seed: int) -> None:
    tracker = PerformanceTracker(WINDOWS, BASELINE)
    verdicts = _feed(tracker, _classifier_stream(seed, 0.9, 0.6))
    assert len(verdicts) == 2000 // 100
    full = [v for v in verdicts if v.window.count == 200]
    assert len(full) == 19
    assert verdicts[0].findings == []
    before = [v for v in full if v.window.end < CHANGE]
    after = [v for v in full if v.window.start >= CHANGE]
    assert len(before) == 9
    assert len(after) == 9
    assert not any(f.breached for f in _accuracy(before))
    assert all(f.breached and not f.immediate for f in _accuracy(after))
    finding = after[-1].finding("accuracy")
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


def test_min_change_is_relative_to_the_baseline_error_rate() -> None:
    """Error 10% -> 12% is a 20% rise: under min_change 0.25 it never breaches, at 0.1 it
    does (the old absolute 5 points would not see a 2-point drop at any z)."""
    right = _classifier_stream(7, 0.9, 0.88, n=200_000)
    baseline = PerformanceBaseline("classification", 0.1, 0.09, events=1_000_000)
    for min_change, expected in ((0.25, False), (0.1, True)):
        settings = PerformanceSettings(window=20_000, hop=10_000, z=2.0, min_change=min_change)
        tracker = PerformanceTracker(settings.model_copy(update={"detector": "none"}), baseline)
        findings = _accuracy(_feed(tracker, right))
        assert findings[-1].breached is expected
        assert findings[-1].threshold == pytest.approx(1 - 0.1 * (1 + min_change), abs=0.02)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cusum_fires_at_once_on_degradation(seed: int) -> None:
    tracker = PerformanceTracker(SETTINGS, BASELINE)
    findings = _accuracy(_feed(tracker, _classifier_stream(seed, 0.9, 0.6)))
    breached = [i for i, f in enumerate(findings) if f.breached]
    assert breached
    assert breached[0] * 100 + 99 >= CHANGE
    assert breached == list(range(breached[0], len(findings)))  # and it stays breached
    assert breached[0] * 100 < CHANGE + 300
    assert all(findings[i].immediate for i in breached)
    assert findings[-1].details["detector"] == "cusum"
    assert tracker.cusums["accuracy"].detections == 1


@pytest.mark.parametrize("detector", ["cusum", "none"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_steady_model_never_degrades(seed: int, detector: str) -> None:
    settings = SETTINGS.model_copy(update={"detector": detector})
    tracker = PerformanceTracker(settings, BASELINE)
    verdicts = _feed(tracker, _classifier_stream(seed, 0.9, 0.9, n=4000))
    assert len(verdicts) == 40
    assert not any(f.breached for f in _accuracy(verdicts[1:]))


def test_improvement_is_not_degradation() -> None:
    for settings in (SETTINGS, WINDOWS):
        tracker = PerformanceTracker(settings, BASELINE)
        assert not any(
            f.breached for f in _accuracy(_feed(tracker, _classifier_stream(3, 0.9, 1.0)))
        )


def test_baseline_from_warm_up_labels() -> None:
    right = _classifier_stream(4, 0.8, 0.8)
    tracker = PerformanceTracker(WINDOWS)
    assert tracker.task is None
    verdicts = _feed(tracker, right)
    assert tracker.task == "classification"
    assert tracker.source == "labels"
    baseline = tracker.baseline
    assert baseline is not None
    assert baseline.events == 300
    warm = np.array([0.0 if ok else 1.0 for ok in right[:300]])
    assert baseline.loss_mean == pytest.approx(warm.mean())
    assert baseline.loss_var == pytest.approx(warm.var())
    # panes start after the warm-up: the first one ends with label 300 + 100
    assert verdicts[0].window.start == 300.0
    assert verdicts[0].window.end == 399.0
    assert len(verdicts) == (2000 - 300) // 100
    assert set(verdicts[-1].sources.values()) == {"labels"}


def _regression_stream(seed: int, noise_after: float, n: int = 2000) -> list[tuple[float, float]]:
    rng = np.random.default_rng(seed)
    truth = rng.normal(50.0, 10.0, size=n)
    noise = rng.normal(0.0, np.where(np.arange(n) < CHANGE, 1.0, noise_after))
    return list(zip((truth + noise).tolist(), truth.tolist(), strict=True))


@pytest.mark.parametrize("detector", ["cusum", "none"])
def test_regression_mae_and_rmse_degradation(detector: str) -> None:
    settings = SETTINGS.model_copy(update={"detector": detector, "metrics": ["mae", "rmse"]})
    tracker = PerformanceTracker(settings)
    verdicts = []
    for i, (prediction, label) in enumerate(_regression_stream(5, 3.0)):
        verdicts += tracker.add(prediction, label, float(i))
    assert tracker.task == "regression"
    assert tracker.baseline is not None
    assert tracker.baseline.metric == "mae"
    assert tracker.baseline.value == pytest.approx(math.sqrt(2 / math.pi), rel=0.15)
    assert tracker.subjects == ["mae", "rmse"]
    full = [v for v in verdicts if v.window.count == 200]
    before = [v for v in full if v.window.end < CHANGE]
    after = [v for v in full if v.window.start >= CHANGE + 200]
    assert before
    assert after
    for subject, value in (("mae", 3.0 * math.sqrt(2 / math.pi)), ("rmse", 3.0)):
        assert not any(v.finding(subject).breached for v in before)
        assert all(v.finding(subject).breached for v in after)
        finding = after[0].finding(subject)
        assert finding.score == pytest.approx(value, rel=0.15)
        assert finding.threshold > tracker.baseline.losses()["mae"].loss


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


def _probability_stream(seed: int, n: int, error: float) -> tuple[list[float], list[bool]]:
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.3
    wrong = rng.random(n) < error
    confidence = rng.uniform(0.55, 0.99, n)
    scores = np.where(y ^ wrong, confidence, 1 - confidence).round(4)
    return scores.tolist(), y.tolist()


def test_loss_panes_merge_exactly() -> None:
    settings = SETTINGS.model_copy(
        update={"metrics": ["accuracy", "log_loss", "roc_auc", "recall"], "window": 1000}
    )
    scores, labels = _probability_stream(8, 1300, 0.1)
    tracker = PerformanceTracker(settings, PerformanceBaseline.from_labels(scores, labels))
    verdicts = tracker.add_many(scores, labels, list(map(float, range(1300))))
    window = verdicts[-1].window  # the last 1,000 labels, merged from 10 panes
    assert (window.count, window.start, window.end) == (1000, 300.0, 1299.0)
    tail_scores, tail_labels = scores[300:1300], labels[300:1300]
    assert window.scores == tail_scores
    assert window.positives == tail_labels
    log_loss = event_losses("log_loss", tail_scores, tail_labels)
    assert window.mean("log_loss") == pytest.approx(log_loss.mean())
    assert window.variance("log_loss") == pytest.approx(log_loss.var())
    assert window.confusion == confusion(tail_scores, tail_labels)
    pane = verdicts[0].window.copy()
    pane += LossPane()  # an empty pane changes nothing
    assert pane == verdicts[0].window
    assert LossPane.from_dict(json.loads(json.dumps(window.to_dict()))) == window


@pytest.mark.parametrize("seed", [0, 1])
def test_a_restored_tracker_goes_on_exactly(seed: int) -> None:
    """Checkpoint mid-stream (CUSUM statistic, panes, warm-up): the same findings after."""
    settings = PerformanceSettings(
        window=400, hop=100, baseline_events=1000, metrics=["accuracy", "brier", "f1"]
    )
    scores, labels = _probability_stream(seed, 6000, 0.1)
    degraded, _ = _probability_stream(seed + 10, 6000, 0.3)
    scores[3000:] = degraded[3000:]
    ts = list(map(float, range(6000)))
    straight = PerformanceTracker(settings)
    expected = straight.add_many(scores, labels, ts)
    for cut in (500, 3317):  # in the warm-up, and mid-pane after the baseline
        first = PerformanceTracker(settings)
        got = first.add_many(scores[:cut], labels[:cut], ts[:cut])
        state = json.loads(json.dumps(first.to_dict()))
        restored = PerformanceTracker.from_dict(settings, state)
        got += restored.add_many(scores[cut:], labels[cut:], ts[cut:])
        assert [v.findings for v in got] == [v.findings for v in expected]
    assert any(f.breached and f.subject == "brier" for v in expected for f in v.findings)


def test_a_state_saved_before_the_cusums_starts_afresh() -> None:
    old = {  # a checkpoint of the window-test tracker, as it was saved
        "task": "classification",
        "baseline": {"task": "classification", "loss_mean": 0.1, "loss_var": 0.09, "events": 300},
        "warmup": [],
        "pane": {
            "count": 3,
            "total": 1.0,
            "squares": 1.0,
            "start": 0.0,
            "end": 2.0,
            "detections": 0,
        },
        "panes": [],
        "skipped": 0,
    }
    fresh = PerformanceTracker.from_dict(SETTINGS, old, BASELINE)
    assert fresh.baseline is BASELINE
    assert fresh.subjects == ["accuracy"]
    assert fresh.to_dict() == PerformanceTracker(SETTINGS, BASELINE).to_dict()
    assert PerformanceTracker.from_dict(SETTINGS, old).baseline is None  # first labels again


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_per_class_metrics_alert_on_their_class(seed: int) -> None:
    """Class "fraud" loses recall (half its cases predicted "ok"); "ok" keeps its recall."""
    rng = np.random.default_rng(seed)
    n = 12_000
    labels = np.where(rng.random(n) < 0.2, "fraud", "ok")
    miss = rng.random(n) < np.where(np.arange(n) < 6000, 0.05, 0.5)
    predictions = np.where((labels == "fraud") & miss, "ok", labels).tolist()
    settings = PerformanceSettings(window=2000, hop=500, metrics=["recall"], baseline_events=4000)
    tracker = PerformanceTracker(settings)
    verdicts = tracker.add_many(predictions, labels.tolist(), list(map(float, range(n))))
    assert tracker.subjects == ["recall:fraud", "recall:ok"]
    last = verdicts[-1]
    assert last.finding("recall:fraud").breached
    assert not last.finding("recall:ok").breached
    counts = last.window.confusion["fraud"]
    tail_labels, tail_predictions = labels[-2000:], np.array(predictions[-2000:])
    fraud = tail_labels == "fraud"
    assert counts == [
        int((fraud & (tail_predictions == "fraud")).sum()),
        int((~fraud & (tail_predictions == "fraud")).sum()),
        int((fraud & (tail_predictions != "fraud")).sum()),
    ]
    assert last.finding("recall:fraud").score == pytest.approx(counts[0] / fraud.sum(), abs=1e-6)
    assert not any(f.breached for v in verdicts if v.window.end < 6000 for f in v.findings)


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
    assert [v.findings for v in got] == [v.findings for v in expected]
    assert [v.window for v in got] == [v.window for v in expected]
    assert any(f.breached for f in _accuracy(got))
    assert not any(f.breached for v in got if v.window.end < 1500 for f in v.findings)
    assert batched.skipped == one_by_one.skipped == len(labels[::97])
