"""Per-event loss of a prediction against its label: 0/1 error or absolute error.

A classifier's accuracy is one minus its mean 0/1 loss; a regressor's MAE is its mean
absolute error. Working on one loss stream lets one set of windows, baselines and
detectors serve both kinds of model. References (their labelled baseline,
:mod:`monitor.reference.build`) and the performance trackers
(:mod:`monitor.performance.tracker`) both use it, so it sits below both.
"""

from typing import Literal

__all__ = ["Task", "infer_task", "label_class", "loss", "predicted_class"]

Task = Literal["classification", "regression"]

Prediction = float | str | dict[str, float] | None
Label = float | str | bool


def predicted_class(prediction: Prediction) -> str | None:
    """The class a prediction names: a class string, the most probable class, or None.

    >>> predicted_class({"cat": 0.2, "dog": 0.8}), predicted_class("cat"), predicted_class(0.3)
    ('dog', 'cat', None)
    """
    if isinstance(prediction, str):
        return prediction
    if isinstance(prediction, dict):
        return max(prediction, key=prediction.__getitem__)
    return None


def infer_task(prediction: Prediction, label: Label) -> Task:
    """Classification for classes, flags and 0/1 labels on scores in [0, 1]; else regression.

    >>> infer_task(0.83, True), infer_task(0.83, 1.0), infer_task(12.5, 14.0)
    ('classification', 'classification', 'regression')
    """
    if isinstance(prediction, str | dict) or isinstance(label, str | bool):
        return "classification"
    if isinstance(prediction, float) and 0.0 <= prediction <= 1.0 and label in (0.0, 1.0):
        return "classification"
    return "regression"


def label_class(label: Label) -> str:
    """A label as a class name: ``true``/``false`` for flags, ``1`` for 1.0.

    >>> label_class(True), label_class(1.0), label_class("cat")
    ('true', '1', 'cat')
    """
    if isinstance(label, bool):
        return "true" if label else "false"
    if isinstance(label, float) and label.is_integer():
        return str(int(label))
    return str(label)


def loss(prediction: Prediction, label: Label, task: Task) -> float | None:
    """0/1 error (classification) or absolute error (regression); None if not comparable.

    A numeric score of a binary classifier counts as the positive class from 0.5 on.

    >>> loss(0.83, True, "classification"), loss(0.2, 1.0, "classification")
    (0.0, 1.0)
    >>> loss({"a": 0.1, "b": 0.9}, "b", "classification"), loss(10.0, 12.5, "regression")
    (0.0, 2.5)
    >>> loss("a", 3.5, "regression") is None
    True
    """
    if task == "regression":
        if (
            isinstance(prediction, float)
            and isinstance(label, float | int)
            and not isinstance(label, bool)
        ):
            return abs(prediction - float(label))
        return None
    if isinstance(prediction, float):
        if isinstance(label, bool) or label in (0.0, 1.0):
            return float((prediction >= 0.5) != bool(label))
        return None
    predicted = predicted_class(prediction)
    if predicted is None:
        return None
    return float(predicted != label_class(label))
