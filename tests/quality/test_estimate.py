"""Label-free performance estimates (CBPE) on seeded covariate-shift streams.

The synthetic models are calibrated logistic models (the score is the probability the
labels are drawn from). From event 10,000 the variance of the six inputs the score
depends on drops to a tenth: the inputs shift, the scores crowd towards 0.5 and accuracy
and ROC AUC fall, while the label still depends on the inputs as before (no concept
drift), which is what CBPE assumes.
"""

from collections.abc import Iterator
from pathlib import Path

import msgspec
import numpy as np
import pytest
from scipy.stats import mannwhitneyu

from monitor import model_monitor
from monitor.findings import Finding
from monitor.reference.build import ProfileBuilder
from monitor.reference.profile import ReferenceProfile
from monitor.settings import MonitorSettings
from producers.synthetic import START, Drift, SyntheticModel
from schemas.alerts import AlertKind
from schemas.wire import WirePrediction
from tests.quality.harness import RATE, REFERENCE_EVENTS, run

pytestmark = pytest.mark.quality

ONSET = 10_000
SHIFT = Drift("variance", ONSET, tuple(f"num_{j:02d}" for j in range(6)), magnitude=0.1)
LABEL_DELAY = 3 * 3600.0
ESTIMATED = AlertKind.ESTIMATED_PERFORMANCE_DEGRADATION


def _profile(seed: int, settings: MonitorSettings) -> ReferenceProfile:
    twin = SyntheticModel("m", seed=seed, stream=1)
    builder = ProfileBuilder("m", "1", settings.reference)
    predictions, labels = twin.generate(REFERENCE_EVENTS)
    for event, label in zip(predictions, labels, strict=True):
        builder.add(event["features"], event["prediction"], label["label"])
    return builder.build()


def _windows(
    model: SyntheticModel, events: int, settings: MonitorSettings
) -> Iterator[tuple[model_monitor.TestedWindow, np.ndarray, np.ndarray]]:
    """Each tested window of ``model``'s next ``events`` events, with the scores and the
    labels of its events (count windows: the window ending at event i holds the ``size``
    events before it)."""
    monitor = model_monitor.ModelMonitor("m", "1", _profile(model.seed, settings), settings)
    size = int(settings.window.size)
    scores: list[float] = []
    labels: list[bool] = []
    for start in range(0, events, 10_000):
        predictions, truth = model.generate(min(10_000, events - start))
        scores += [e["prediction"] for e in predictions]
        labels += [t["label"] for t in truth]
        wire = [msgspec.convert(e, WirePrediction) for e in predictions]
        for tested in monitor.add(wire, [float(i) for i in range(start, start + len(wire))]):
            if not tested.window:
                continue  # a pane between two window tests
            end = int(tested.summary.end) + 1  # event i has time i
            yield tested, np.array(scores[end - size : end]), np.array(labels[end - size : end])


def _estimated(tested: model_monitor.TestedWindow) -> dict[str, Finding]:
    return {f.subject: f for f in tested.findings if f.kind == ESTIMATED}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_estimate_tracks_the_realized_metric_through_a_covariate_shift(seed: int) -> None:
    settings = MonitorSettings()
    rows = []
    for tested, scores, labels in _windows(
        SyntheticModel("m", seed=seed, drifts=[SHIFT]), 24_000, settings
    ):
        found = _estimated(tested)
        accuracy = np.mean((scores >= 0.5) == labels)
        auc = mannwhitneyu(scores[labels], scores[~labels]).statistic / (
            labels.sum() * (~labels).sum()
        )
        rows.append((tested.summary.end, found["accuracy"].score, accuracy))
        rows.append((tested.summary.end, found["roc_auc"].score, auc))
        assert (
            found["accuracy"].breached == found["roc_auc"].breached == (tested.summary.end > 10_500)
        )
    end, estimate, realized = np.array(rows).T
    error = np.abs(estimate - realized)
    accuracy_error, auc_error = error[0::2].mean(), error[1::2].mean()
    assert accuracy_error < 0.01, accuracy_error  # 0.0081, 0.0063, 0.0061 on seeds 0, 1, 2
    assert auc_error < 0.01, auc_error  # 0.0057, 0.0063, 0.0056
    before, after = end[0::2] < ONSET, end[0::2] >= ONSET + 2000
    assert realized[0::2][before].mean() - realized[0::2][after].mean() > 0.08


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_stationary_streams_stay_quiet(seed: int) -> None:
    settings = MonitorSettings()
    windows = list(_windows(SyntheticModel("m", seed=seed), 60_000, settings))
    findings = [f for tested, _, _ in windows for f in _estimated(tested).values()]
    assert len(findings) == 2 * len(windows) > 200
    assert not [f for f in findings if f.breached]


def test_the_estimate_fires_hours_before_the_labels_come(tmp_path: Path) -> None:
    result = run(tmp_path, [SHIFT], events=24_000, label_delay=LABEL_DELAY)
    labels_of_the_shift = START + ONSET / RATE + LABEL_DELAY
    for subject in ("accuracy", "roc_auc"):
        assert result.delay("model-0", ESTIMATED, subject) == 1_499
    estimated = [a for a in result.firing("model-0") if a.kind == ESTIMATED]
    assert all(a.detected_at.timestamp() < labels_of_the_shift - 2.9 * 3600 for a in estimated)
    labelled = [a for a in result.firing("model-0") if a.kind == AlertKind.PERFORMANCE_DEGRADATION]
    assert labelled
    assert labelled[0].detected_at.timestamp() > labels_of_the_shift
    assert not [a for a in result.firing("model-0") if result.index(a) < ONSET]
    for model in ("model-1", "model-2"):
        assert not [a for a in result.firing(model) if a.kind == ESTIMATED]
