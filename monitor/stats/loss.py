"""Predictions and labels: their types, the task they imply and the classes they name.

The metrics (:mod:`monitor.stats.metrics`) turn them into losses; references (their
labelled baseline, :mod:`monitor.reference.build`) and the performance trackers
(:mod:`monitor.performance.tracker`) both use them, so they sit below both.
"""

from typing import Literal

__all__ = ["Label", "Prediction", "Task", "infer_task", "label_class", "predicted_class"]

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
