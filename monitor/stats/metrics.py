"""The performance metrics people monitor, as losses: per event, or per window.

Every metric is tracked as a *loss* that rises when the model gets worse, so one test
serves them all: the 0/1 error for ``accuracy``, ``1 - AUC`` for ``roc_auc``, and so on.

- Decomposable metrics have a per-event loss whose mean is the metric (or its square,
  for ``rmse``): ``accuracy`` (0/1 error), ``log_loss`` (``-ln p`` of the true class,
  ``p`` clipped to ``[1e-15, 1 - 1e-15]``), ``brier`` (``(p - y)^2`` for a binary score,
  the sum over classes of ``(p_k - y_k)^2`` for class probabilities), ``mae`` (absolute
  error) and ``rmse`` (squared error). These are scikit-learn's formulas.
- Window metrics are not means of events: ``roc_auc`` (binary scores; the Mann-Whitney
  statistic, standard error of Hanley and McNeil 1982) and per-class ``precision``,
  ``recall`` and ``f1`` (from confusion counts; binomial standard errors, the delta
  method for F1). Their subject names the class: ``recall:fraud``.
"""

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from monitor.settings import PerformanceMetric
from monitor.stats.loss import Label, Prediction, Task, label_class, predicted_class

__all__ = [
    "CLASS_METRICS",
    "DECOMPOSABLE",
    "Metric",
    "applies",
    "class_metric",
    "confusion",
    "event_losses",
    "predicted_label",
    "roc_auc",
]

Metric = PerformanceMetric
DECOMPOSABLE: tuple[Metric, ...] = ("accuracy", "log_loss", "brier", "mae", "rmse")
CLASS_METRICS: tuple[Metric, ...] = ("precision", "recall", "f1")
_REGRESSION = ("mae", "rmse")
_EPS = 1e-15


def applies(metric: Metric, task: Task) -> bool:
    """Whether ``metric`` is one of ``task``'s.

    >>> applies("mae", "regression"), applies("roc_auc", "regression")
    (True, False)
    """
    return (metric in _REGRESSION) == (task == "regression")


def predicted_label(prediction: Prediction, label: Label) -> str | None:
    """The class a classifier predicted, named like :func:`label_class` names ``label``:
    a binary score counts as the positive class from 0.5 on.

    >>> predicted_label(0.7, True), predicted_label(0.2, 1.0), predicted_label("b", "a")
    ('true', '0', 'b')
    """
    if isinstance(prediction, float | int) and not isinstance(prediction, bool):
        positive = prediction >= 0.5
        return label_class(positive if isinstance(label, bool) else float(positive))
    return predicted_class(prediction)


def _positive(label: Label) -> bool | None:
    if isinstance(label, bool):
        return label
    if isinstance(label, float | int) and label in (0.0, 1.0):
        return bool(label)
    return None


def _event_loss(metric: Metric, prediction: Prediction, label: Label) -> float:
    """One event's loss for a decomposable metric; NaN if it does not apply."""
    if metric in _REGRESSION:
        if not isinstance(prediction, float | int) or isinstance(label, str | bool):
            return math.nan
        error = float(prediction) - float(label)
        return abs(error) if metric == "mae" else error * error
    if metric == "accuracy":
        if isinstance(prediction, float | int) and _positive(label) is None:
            return math.nan
        predicted = predicted_label(prediction, label)
        return math.nan if predicted is None else float(predicted != label_class(label))
    if isinstance(prediction, dict):
        total = sum(prediction.values())
        if total <= 0:
            return math.nan
        true = label_class(label)
        p = prediction.get(true, 0.0) / total
        if metric == "log_loss":
            return -math.log(min(max(p, _EPS), 1 - _EPS))
        rest = sum((v / total) ** 2 for k, v in prediction.items() if k != true)
        return (1.0 - p) ** 2 + rest
    positive = _positive(label)
    if not isinstance(prediction, float | int) or positive is None:
        return math.nan
    p = float(prediction) if positive else 1.0 - float(prediction)
    if metric == "log_loss":
        return -math.log(min(max(p, _EPS), 1 - _EPS))
    return (1.0 - p) ** 2


def event_losses(
    metric: Metric, predictions: Sequence[Prediction], labels: Sequence[Label]
) -> NDArray[np.float64]:
    """Per-event losses of a decomposable ``metric``; NaN where it does not apply.

    >>> event_losses("log_loss", [0.8, 0.8], [True, False]).round(4).tolist()
    [0.2231, 1.6094]
    >>> event_losses("brier", [{"a": 0.5, "b": 0.5}], ["a"]).tolist()
    [0.5]
    """
    vectors = _numeric(predictions, labels)
    if vectors is not None:
        return _vector_losses(metric, *vectors)
    return np.fromiter(
        (_event_loss(metric, p, y) for p, y in zip(predictions, labels, strict=True)),
        dtype=float,
        count=len(predictions),
    )


def _numeric(
    predictions: Sequence[Prediction], labels: Sequence[Label]
) -> tuple[NDArray[np.float64], NDArray[np.float64], bool] | None:
    """Numeric scores and labels as arrays, and whether the labels are flags; None when
    either holds anything else (the per-event path then decides)."""
    if set(map(type, predictions)) != {float}:
        return None
    label_types = set(map(type, labels))
    if label_types == {bool}:
        flags = True
    elif label_types <= {float, int}:
        flags = False
    else:
        return None
    scores = np.array(predictions, dtype=float)
    return scores, np.array(labels, dtype=float), flags


def _vector_losses(
    metric: Metric, scores: NDArray[np.float64], labels: NDArray[np.float64], flags: bool
) -> NDArray[np.float64]:
    """:func:`_event_loss` on arrays of float scores and labels (flags as 0/1)."""
    if metric in _REGRESSION:
        if flags:
            return np.full(scores.size, np.nan)
        error = scores - labels
        return np.abs(error) if metric == "mae" else error * error
    binary = (labels == 0.0) | (labels == 1.0)
    positive = labels == 1.0
    if metric == "accuracy":
        loss = ((scores >= 0.5) != positive).astype(float)
    else:
        p = np.where(positive, scores, 1.0 - scores)
        loss = -np.log(np.clip(p, _EPS, 1 - _EPS)) if metric == "log_loss" else (1.0 - p) ** 2
    return np.where(binary, loss, np.nan)


def roc_auc(scores: NDArray[np.float64], positives: NDArray[np.bool_]) -> tuple[float, float]:
    """ROC AUC of ``scores`` (ties count half) and its Hanley-McNeil standard error;
    NaN without both classes.

    >>> auc, se = roc_auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([False, False, True, True]))
    >>> auc, round(se, 3)
    (0.75, 0.276)
    """
    from scipy.stats import rankdata  # imported here: scipy.stats is 0.4 s of every start

    n1 = int(positives.sum())
    n0 = positives.size - n1
    if n1 == 0 or n0 == 0:
        return math.nan, math.nan
    ranks = rankdata(scores)
    auc = float((ranks[positives].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    variance = (auc * (1 - auc) + (n1 - 1) * (q1 - auc**2) + (n0 - 1) * (q2 - auc**2)) / (n1 * n0)
    return auc, math.sqrt(max(variance, 0.0))


def confusion(predictions: Sequence[Prediction], labels: Sequence[Label]) -> dict[str, list[int]]:
    """Per class: ``[true positives, false positives, false negatives]``.

    >>> confusion(["a", "b", "a"], ["a", "a", "b"])
    {'a': [1, 1, 1], 'b': [0, 1, 1]}
    """
    counts: dict[str, list[int]] = {}
    for prediction, label in zip(predictions, labels, strict=True):
        predicted = predicted_label(prediction, label)
        if predicted is None:
            continue
        true = label_class(label)
        if predicted == true:
            counts.setdefault(true, [0, 0, 0])[0] += 1
        else:
            counts.setdefault(predicted, [0, 0, 0])[1] += 1
            counts.setdefault(true, [0, 0, 0])[2] += 1
    return dict(sorted(counts.items()))


def class_metric(metric: Metric, counts: Sequence[int]) -> tuple[float, float, int]:
    """``(value, standard error, events it rests on)`` of ``precision``, ``recall`` or
    ``f1`` from one class's ``[tp, fp, fn]``; NaN when undefined (no events).

    F1 is ``2 q / (1 + q)`` with ``q = tp / (tp + fp + fn)``, binomial: its standard
    error is ``2 / (1 + q)^2`` times ``q``'s.

    >>> [round(x, 4) for x in class_metric("f1", [30, 10, 5])]
    [0.8, 0.0506, 45]
    """
    tp, fp, fn = counts
    n = tp + (fp if metric == "precision" else fn if metric == "recall" else fp + fn)
    if n == 0:
        return math.nan, math.nan, 0
    q = tp / n
    se = math.sqrt(q * (1 - q) / n)
    if metric == "f1":
        return 2 * q / (1 + q), 2 / (1 + q) ** 2 * se, n
    return q, se, n


def binary_scores(
    predictions: Sequence[Prediction], labels: Sequence[Label]
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Scores and positive flags of the events with a binary score and a binary label.

    >>> binary_scores([0.9, "a", 0.2], [True, "a", 0.0])
    (array([0.9, 0.2]), array([ True, False]))
    """
    pairs = [
        (float(p), positive)
        for p, y in zip(predictions, labels, strict=True)
        if isinstance(p, float | int)
        and not isinstance(p, bool)
        and (positive := _positive(y)) is not None
    ]
    if not pairs:
        return np.empty(0), np.empty(0, dtype=bool)
    scores, positives = zip(*pairs, strict=True)
    return np.array(scores, dtype=float), np.array(positives, dtype=bool)


def window_metrics(
    scores: NDArray[np.float64],
    positives: NDArray[np.bool_],
    counts: dict[str, list[int]],
    metrics: Sequence[Metric],
) -> dict[str, tuple[float, float, int]]:
    """Per subject (``roc_auc``, ``recall:fraud``): ``(loss, standard error, events)`` of
    the window ``metrics`` of these; the loss is one minus the metric. Undefined ones
    (one class only, no events of a class) are left out.

    >>> window_metrics(np.array([0.2, 0.7]), np.array([False, True]), {"a": [3, 1, 0]},
    ...                ["roc_auc", "precision"])
    {'roc_auc': (0.0, 0.0, 2), 'precision:a': (0.25, 0.21650635094610965, 4)}
    """
    out: dict[str, tuple[float, float, int]] = {}
    if "roc_auc" in metrics:
        auc, se = roc_auc(scores, positives)
        if not math.isnan(auc):
            out["roc_auc"] = (1.0 - auc, se, int(scores.size))
    for metric in CLASS_METRICS:
        if metric in metrics:
            for name, class_counts in counts.items():
                value, se, n = class_metric(metric, class_counts)
                if n:
                    out[f"{metric}:{name}"] = (1.0 - value, se, n)
    return out


def window_losses(
    predictions: Sequence[Prediction],
    labels: Sequence[Label],
    metrics: Sequence[Metric],
    roc: bool = False,
) -> dict[str, tuple[float, float, int]]:
    """:func:`window_metrics` on labelled predictions, as a baseline: ``(loss, variance
    per event, events)``, the variance ``events`` times the squared standard error;
    ``roc`` adds ``roc_auc``."""
    scores, positives = binary_scores(predictions, labels)
    names = [*metrics, "roc_auc"] if roc else list(metrics)
    found = window_metrics(scores, positives, confusion(predictions, labels), names)
    return {k: (loss, n * se * se, n) for k, (loss, se, n) in found.items()}
