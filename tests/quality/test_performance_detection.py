"""Performance degradation on seeded labelled streams: delay and false alarms.

The issue's stream: a binary classifier's accuracy falls from 94.4% to 91.5% (its error
rate up by half), which NannyML flags within one 5,000-row chunk. Findings go through the
alert policy at its defaults, as in the service; delays are counted in labels from the
drop to the last label of the pane that fired, and pinned like the other quality tests.
"""

import numpy as np
import pytest

from monitor.alerting.policy import AlertPolicy, Span
from monitor.performance.tracker import PerformanceTracker
from monitor.reference.profile import PerformanceBaseline
from monitor.settings import PerformanceSettings, PolicySettings
from schemas.alerts import AlertReference

pytestmark = pytest.mark.quality

BEFORE, AFTER = 1 - 0.944, 1 - 0.915
"""Error rates before and after the drop."""
ONSET = 10_000
SEEDS = range(10)


def _classifier(
    rng: np.random.Generator, n: int, error: float, after: float | None = None
) -> tuple[list[float], list[bool]]:
    """Scores of a binary classifier (30% positives) wrong at rate ``error``, ``after``
    from ONSET on; confidence spread over [0.55, 0.99]."""
    rates = np.full(n, error)
    if after is not None:
        rates[ONSET:] = after
    y = rng.random(n) < 0.3
    wrong = rng.random(n) < rates
    confidence = rng.uniform(0.55, 0.99, n)
    return np.where(y ^ wrong, confidence, 1 - confidence).round(4).tolist(), y.tolist()


def _regressor(rng: np.random.Generator, n: int, _: float = 0.0) -> tuple[list[float], list[float]]:
    truth = rng.lognormal(3.0, 0.5, n)
    return (truth + rng.standard_t(4, n) * 2.0).tolist(), truth.tolist()


def _firing(
    tracker: PerformanceTracker, predictions: list, labels: list, batch: int = 5_000
) -> list[tuple[str, int]]:
    """``(subject, index of the last label of the window that fired)`` of every firing."""
    policy = AlertPolicy(PolicySettings())
    reference = AlertReference(id="m/1/ref", events=1)
    fired = []
    for start in range(0, len(predictions), batch):
        stop = start + batch
        ts = [float(t) for t in range(start, min(stop, len(predictions)))]
        for verdict in tracker.add_many(predictions[start:stop], labels[start:stop], ts):
            window = Span(verdict.window.start, verdict.window.end, verdict.window.count)
            for finding in verdict.findings:
                alert = policy.observe("m", "1", finding, window, reference, window.end)
                if alert is not None and alert.status == "firing":
                    fired.append((finding.subject, int(window.end)))
    return fired


def _delay(seed: int, labelled_reference: bool) -> int | None:
    rng = np.random.default_rng(seed)
    baseline = None
    if labelled_reference:
        baseline = PerformanceBaseline.from_labels(*_classifier(rng, 20_000, BEFORE))
    tracker = PerformanceTracker(PerformanceSettings(), baseline)
    fired = _firing(tracker, *_classifier(rng, 40_000, BEFORE, AFTER))
    assert all(end >= ONSET for _, end in fired), "an alert before the drop"
    return next((end + 1 - ONSET for subject, end in fired if subject == "accuracy"), None)


PINNED = {
    # labelled reference of 20,000 events
    True: [2800, 4900, 3400, 2800, 2200, 3600, 2700, 1700, 4000, 2000],
    # no labelled reference: baseline from the first 10,000 labels, the drop right after
    False: [4300, 2800, 3200, 3400, 4100, 3200, 3200, 4100, 4800, 2500],
}


@pytest.mark.parametrize("labelled_reference", [True, False])
def test_accuracy_944_to_915_is_alerted(labelled_reference: bool) -> None:
    delays = [_delay(seed, labelled_reference) for seed in SEEDS]
    assert None not in delays
    assert delays == PINNED[labelled_reference]
    assert max(delays) <= 5_000  # NannyML's one chunk


@pytest.mark.parametrize(
    ("task", "metrics"),
    [
        ("classification", ["accuracy", "log_loss", "brier", "roc_auc", "recall", "f1"]),
        ("regression", ["mae", "rmse"]),
    ],
)
def test_no_false_alarm_in_a_million_stationary_labels(task: str, metrics: list[str]) -> None:
    """Five seeds of 200,000 labels, every metric tracked: no firing at all (the budget
    is one per 1,000,000 labels, shared by the sequential tests)."""
    settings = PerformanceSettings(metrics=metrics)  # type: ignore[arg-type]
    fired = []
    for seed in range(5):
        rng = np.random.default_rng(1000 + seed)
        make = _classifier if task == "classification" else _regressor
        reference = PerformanceBaseline.from_labels(*make(rng, 20_000, BEFORE))  # type: ignore[operator]
        tracker = PerformanceTracker(settings, reference)
        fired += _firing(tracker, *make(rng, 200_000, BEFORE))  # type: ignore[operator]
        assert tracker.subjects
    assert fired == []


def test_no_false_alarm_from_a_baseline_of_first_labels() -> None:
    """Without a reference the baseline is estimated from 10,000 labels: its upper bound
    keeps the budget (five seeds of 200,000 labels)."""
    fired = []
    for seed in range(5):
        rng = np.random.default_rng(2000 + seed)
        tracker = PerformanceTracker(PerformanceSettings())
        fired += _firing(tracker, *_classifier(rng, 200_000, BEFORE))
    assert fired == []
