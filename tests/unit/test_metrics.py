"""Performance metrics against their textbook formulas, and the CUSUM's recursion."""

import math

import numpy as np
import pytest
from scipy.stats import mannwhitneyu

from monitor.reference.profile import PerformanceBaseline
from monitor.stats.metrics import (
    binary_scores,
    class_metric,
    confusion,
    event_losses,
    roc_auc,
    window_metrics,
)
from monitor.stats.sequential import Cusum, bennett_increments, bernoulli_increments

SEEDS = [0, 1, 2, 3]


def _binary(seed: int, n: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.random(n) < rng.uniform(0.05, 0.5)
    logit = rng.normal(0, 1, n) + rng.uniform(0.5, 2.5) * np.where(y, 1, -1)
    scores = 1 / (1 + np.exp(-logit))
    scores[: n // 10] = scores[: n // 10].round(1)  # ties
    scores[0], scores[1] = 0.0, 1.0  # the clipping of the log loss
    return scores, y


@pytest.mark.parametrize("seed", SEEDS)
def test_binary_losses_are_the_textbook_formulas(seed: int) -> None:
    scores, y = _binary(seed)
    predictions, labels = scores.tolist(), y.tolist()
    p_true = np.clip(np.where(y, scores, 1 - scores), 1e-15, 1 - 1e-15)
    log_loss = -np.mean(np.log(p_true))
    assert event_losses("log_loss", predictions, labels).mean() == pytest.approx(log_loss)
    brier = np.mean((scores - y) ** 2)
    assert event_losses("brier", predictions, labels).mean() == pytest.approx(brier)
    error = np.mean((scores >= 0.5) != y)
    assert event_losses("accuracy", predictions, labels).mean() == pytest.approx(error)
    as_floats = y.astype(float).tolist()  # 0/1 labels: the same losses
    assert event_losses("brier", predictions, as_floats).mean() == pytest.approx(brier)


@pytest.mark.parametrize("seed", SEEDS)
def test_multiclass_losses_are_the_textbook_formulas(seed: int) -> None:
    rng = np.random.default_rng(seed)
    classes = ["a", "b", "c"]
    probabilities = rng.dirichlet([1.0, 2.0, 0.5], size=1000)
    truth = rng.integers(0, 3, size=1000)
    predictions = [dict(zip(classes, row.tolist(), strict=True)) for row in probabilities]
    labels = [classes[k] for k in truth]
    onehot = np.eye(3)[truth]
    p_true = np.clip(probabilities[np.arange(1000), truth], 1e-15, 1 - 1e-15)
    assert event_losses("log_loss", predictions, labels).mean() == pytest.approx(
        -np.log(p_true).mean()
    )
    assert event_losses("brier", predictions, labels).mean() == pytest.approx(
        ((probabilities - onehot) ** 2).sum(axis=1).mean()
    )
    error = np.mean(probabilities.argmax(axis=1) != truth)
    assert event_losses("accuracy", predictions, labels).mean() == pytest.approx(error)


@pytest.mark.parametrize("seed", SEEDS)
def test_regression_losses(seed: int) -> None:
    rng = np.random.default_rng(seed)
    truth = rng.lognormal(2, 1, 500)
    prediction = truth + rng.standard_t(3, 500)
    mae = event_losses("mae", prediction.tolist(), truth.tolist()).mean()
    mse = event_losses("rmse", prediction.tolist(), truth.tolist()).mean()
    assert mae == pytest.approx(np.abs(prediction - truth).mean())
    assert math.sqrt(mse) == pytest.approx(np.sqrt(((prediction - truth) ** 2).mean()))


@pytest.mark.parametrize("seed", SEEDS)
def test_roc_auc_is_the_mann_whitney_statistic(seed: int) -> None:
    scores, y = _binary(seed)
    auc, _ = roc_auc(scores, y)
    u = mannwhitneyu(scores[y], scores[~y]).statistic
    assert auc == pytest.approx(u / (y.sum() * (~y).sum()))
    assert math.isnan(roc_auc(scores[y], y[y])[0])  # one class: undefined


def test_hanley_mcneil_standard_error_matches_the_spread_of_auc() -> None:
    """Exponential scores are the model Hanley and McNeil's formula is exact for."""
    rng = np.random.default_rng(11)
    aucs, ses = [], []
    for _ in range(400):
        negatives, positives = rng.exponential(1.0, 300), rng.exponential(2.5, 100)
        scores = np.concatenate([negatives, positives])
        y = np.arange(400) >= 300
        auc, se = roc_auc(scores, y)
        aucs.append(auc)
        ses.append(se)
    assert np.mean(ses) == pytest.approx(np.std(aucs), rel=0.1)


@pytest.mark.parametrize("seed", SEEDS)
def test_precision_recall_f1_per_class(seed: int) -> None:
    rng = np.random.default_rng(seed)
    classes = np.array(["cat", "dog", "eel"])
    truth = classes[rng.choice(3, 2000, p=[0.6, 0.3, 0.1])]
    guess = np.where(rng.random(2000) < 0.7, truth, classes[rng.integers(0, 3, 2000)])
    counts = confusion(guess.tolist(), truth.tolist())
    for name in classes:
        tp = np.sum((guess == name) & (truth == name))
        precision = tp / np.sum(guess == name)
        recall = tp / np.sum(truth == name)
        f1 = 2 * precision * recall / (precision + recall)
        for metric, expected, n in (
            ("precision", precision, np.sum(guess == name)),
            ("recall", recall, np.sum(truth == name)),
            ("f1", f1, np.sum(guess == name) + np.sum(truth == name) - tp),
        ):
            value, se, events = class_metric(metric, counts[name])  # type: ignore[arg-type]
            assert value == pytest.approx(expected)
            assert events == n
            assert 0 < se < 0.1
    found = window_metrics(np.empty(0), np.empty(0, dtype=bool), counts, ["recall"])
    assert sorted(found) == ["recall:cat", "recall:dog", "recall:eel"]


def test_binary_classes_are_named_like_the_labels() -> None:
    assert confusion([0.9, 0.2], [True, True]) == {"false": [0, 1, 0], "true": [1, 0, 1]}
    assert confusion([0.9, 0.2], [1.0, 0.0]) == {"0": [1, 0, 0], "1": [1, 0, 0]}
    scores, positives = binary_scores([0.9, 0.2, "x"], [1.0, False, True])
    assert scores.tolist() == [0.9, 0.2]
    assert positives.tolist() == [True, False]


@pytest.mark.parametrize("seed", SEEDS)
def test_baseline_holds_every_metric(seed: int) -> None:
    scores, y = _binary(seed, 5000)
    baseline = PerformanceBaseline.from_labels(scores.tolist(), y.tolist())
    assert baseline is not None
    losses = baseline.losses()
    assert set(losses) >= {"accuracy", "log_loss", "brier", "roc_auc", "recall:true", "f1:false"}
    log_loss = event_losses("log_loss", scores.tolist(), y.tolist())
    assert losses["log_loss"].loss == pytest.approx(log_loss.mean())
    assert losses["log_loss"].bound == pytest.approx(np.quantile(log_loss, 0.999))
    clipped = np.minimum(log_loss, losses["log_loss"].bound)
    assert losses["log_loss"].clipped_loss == pytest.approx(clipped.mean())
    auc, se = roc_auc(scores, y)
    assert losses["roc_auc"].loss == pytest.approx(1 - auc)
    assert baseline.standard_error("roc_auc") == pytest.approx(se)


# -- CUSUM ------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_cusum_is_page_recursion_however_batched(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(-0.05, 1.0, 5000)
    statistic, path = 0.0, []
    for value in x:  # Page's recursion, event by event
        statistic = max(0.0, statistic + value)
        path.append(statistic)
    cusum = Cusum(threshold=1e9)
    cuts = sorted(rng.choice(np.arange(1, 5000), 30, replace=False).tolist())
    for start, stop in zip([0, *cuts], [*cuts, 5000], strict=True):
        cusum.update(x[start:stop])
        assert cusum.statistic == pytest.approx(path[stop - 1])
    one_by_one = Cusum(threshold=1e9)
    for value in x:
        one_by_one.update([value])
    assert one_by_one.statistic == cusum.statistic  # exactly: a checkpoint compares equal
    first = next(i for i, s in enumerate(path) if s >= 8.0)
    alarm = Cusum(threshold=8.0)
    assert not alarm.update(x[:first])
    assert alarm.update(x[first : first + 1])


def test_increments_have_exponential_mean_at_most_one_before_a_change() -> None:
    """What Lorden's bound needs: E e^x = 1 for the Bernoulli ratio, <= 1 for Bennett's
    increments on any law of the loss in [0, bound] with that mean and variance."""
    for p0 in (0.01, 0.056, 0.3):
        x = bernoulli_increments(np.array([1.0, 0.0]), p0, 1.25 * p0)
        assert p0 * math.exp(x[0]) + (1 - p0) * math.exp(x[1]) == pytest.approx(1.0)
    rng = np.random.default_rng(3)
    for _ in range(200):  # discrete laws on [0, 5]
        support = rng.uniform(0, 5, 6)
        weights = rng.dirichlet(np.full(6, 0.3))
        mean = weights @ support
        variance = weights @ (support - mean) ** 2
        x = bennett_increments(support, mean, variance, 5.0, rng.uniform(0.01, 1.0) * mean)
        assert weights @ np.exp(x) <= 1.0 + 1e-12


@pytest.mark.parametrize("seed", SEEDS)
def test_vectorised_losses_equal_the_per_event_ones(seed: int) -> None:
    rng = np.random.default_rng(seed)
    scores = rng.random(300).tolist()
    cases = [
        rng.random(300) < 0.4,  # flags
        (rng.random(300) < 0.4).astype(float),  # 0/1 labels
        rng.normal(0.5, 1.0, 300),  # a regressor's targets
    ]
    for labels in cases:
        values = labels.tolist()
        for metric in ("accuracy", "log_loss", "brier", "mae", "rmse"):
            fast = event_losses(metric, scores, values)
            one_by_one = np.concatenate(
                [
                    event_losses(metric, [s, None], [y, y])
                    for s, y in zip(scores, values, strict=True)
                ]
            )[::2]  # None: the per-event path
            np.testing.assert_allclose(fast, one_by_one, rtol=1e-12)  # NaN where NaN
