"""A versioned summary of a model's reference data: what windows are tested against.

A profile holds, per model and version, the column layout (quantile bins, categories),
the reference's own summary on those bins, the prediction's, and the label performance
when the reference had labels (with the scores' calibration, for a binary classifier),
and the PCA of its numeric features (joint drift). Its id names model, version and a
content hash, so every alert says exactly which reference it was tested against.
"""

import hashlib
import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Self

import numpy as np

from monitor.stats.calibration import Calibration
from monitor.stats.columns import ColumnLayout, ColumnSummary
from monitor.stats.loss import Label, Prediction, Task, infer_task
from monitor.stats.metrics import (
    CLASS_METRICS,
    DECOMPOSABLE,
    applies,
    event_losses,
    window_losses,
)
from monitor.stats.reconstruction import Reconstruction

__all__ = [
    "ANY",
    "FORMAT",
    "MetricBaseline",
    "PerformanceBaseline",
    "ReferenceProfile",
    "ReferenceSet",
]

FORMAT = "driftline.reference/2"
"""Version 2: numeric columns have fine bins with per-bin sums (version 1 files must be
rebuilt)."""
ANY = "*"
"""Model or version of a profile that applies to any (a CSV reference has no model)."""


class MetricBaseline(NamedTuple):
    """One metric's baseline, as a loss (see :mod:`monitor.stats.metrics`)."""

    loss: float
    variance: float
    """Per event; for a window metric, events times its squared standard error."""
    events: int
    bound: float = 1.0
    """The sequential test clips a per-event loss here: the baseline's 99.9th percentile."""
    clipped_loss: float | None = None
    """Mean of the clipped losses (None: the loss)."""
    clipped_variance: float | None = None
    """Their variance (None: the variance)."""


@dataclass(frozen=True)
class PerformanceBaseline:
    """The loss of every metric on labelled events (the reference's, or a model's first).

    ``metrics`` maps a subject (``accuracy``, ``log_loss``, ``recall:fraud``) to its
    :class:`MetricBaseline`. ``loss_mean``,
    ``loss_var`` and ``events`` are accuracy's (a regressor's: MAE's); a reference built
    before ``metrics`` existed has only them.

    Examples
    --------
    >>> PerformanceBaseline("classification", loss_mean=0.1, loss_var=0.09, events=100).value
    0.9
    >>> base = PerformanceBaseline.from_labels([0.9, 0.2, 0.6, 0.3], [True, False, False, False])
    >>> base.task, base.value, sorted(base.metrics)[:4]
    ('classification', 0.75, ['accuracy', 'brier', 'f1:false', 'f1:true'])
    >>> base.standard_error("accuracy") == (0.75 * 0.25 / 4) ** 0.5
    True
    """

    task: Task
    loss_mean: float
    loss_var: float
    events: int
    metrics: dict[str, MetricBaseline] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # read from JSON, a metric's baseline is a list
        metrics = {k: MetricBaseline(*v) for k, v in self.metrics.items()}
        object.__setattr__(self, "metrics", metrics)

    @property
    def metric(self) -> str:
        """``accuracy`` for classifiers, ``mae`` for regressors."""
        return "accuracy" if self.task == "classification" else "mae"

    @property
    def value(self) -> float:
        """The metric's value: accuracy, or mean absolute error."""
        return 1.0 - self.loss_mean if self.task == "classification" else self.loss_mean

    def losses(self) -> dict[str, MetricBaseline]:
        """``metrics``, or for an older reference its one metric (an
        MAE then clipped at six standard deviations above its mean)."""
        if self.metrics:
            return self.metrics
        bound = 1.0 if self.task == "classification" else self.loss_mean + 6 * self.loss_var**0.5
        return {self.metric: MetricBaseline(self.loss_mean, self.loss_var, self.events, bound)}

    def standard_error(self, subject: str) -> float:
        """Standard error of ``subject``'s baseline loss."""
        _, variance, events, *_ = self.losses()[subject]
        return math.sqrt(variance / max(events, 1))

    @classmethod
    def from_labels(
        cls, predictions: Sequence[Prediction], labels: Sequence[Label], task: Task | None = None
    ) -> "PerformanceBaseline | None":
        """Every metric that applies, on labelled predictions (None if none does);
        ``task`` is inferred by majority if not given."""
        if not predictions:
            return None
        if task is None:
            tasks = Counter(map(infer_task, predictions, labels))
            task = tasks.most_common(1)[0][0]
        metrics: dict[str, MetricBaseline] = {}
        for metric in DECOMPOSABLE:
            if applies(metric, task):
                losses = event_losses(metric, predictions, labels)
                losses = losses[~np.isnan(losses)]
                if losses.size:
                    bound = 1.0 if metric == "accuracy" else float(np.quantile(losses, 0.999))
                    clipped = np.minimum(losses, bound)
                    metrics[metric] = MetricBaseline(
                        float(losses.mean()),
                        float(losses.var()),
                        losses.size,
                        bound,
                        float(clipped.mean()),
                        float(clipped.var()),
                    )
        if task == "classification":
            windowed = window_losses(predictions, labels, CLASS_METRICS, roc=True)
            metrics |= {k: MetricBaseline(*v) for k, v in windowed.items()}
        main = "accuracy" if task == "classification" else "mae"
        if main not in metrics:
            return None
        return cls(task, *metrics[main][:3], metrics=metrics)


@dataclass(frozen=True, eq=False)
class ReferenceProfile:
    """The reference of one model and version."""

    id: str
    model: str
    model_version: str
    events: int
    features: ColumnSummary
    prediction: ColumnSummary | None
    performance: PerformanceBaseline | None
    calibration: Calibration | None = None
    """Isotonic calibration of a binary classifier's scores (absent from older files)."""
    joint: Reconstruction | None = None
    """PCA of the numeric features; None in files built before it (no joint test)."""

    @staticmethod
    def make_id(model: str, model_version: str, content: dict[str, Any]) -> str:
        """``model/version/ref-<hash>``: same content, same id.

        >>> ReferenceProfile.make_id("m", "3", {"a": 1})
        'm/3/ref-f9d86028'
        """
        digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
        return f"{model}/{model_version}/ref-{digest[:8]}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (see :class:`ReferenceSet` for the file)."""
        return {
            "id": self.id,
            "model": self.model,
            "model_version": self.model_version,
            "events": self.events,
            "features": {
                "layout": self.features.layout.to_dict(),
                "summary": self.features.to_dict(),
            },
            "prediction": None
            if self.prediction is None
            else {
                "layout": self.prediction.layout.to_dict(),
                "summary": self.prediction.to_dict(),
            },
            "performance": None if self.performance is None else vars(self.performance),
            "calibration": None if self.calibration is None else self.calibration.to_dict(),
            "joint": None if self.joint is None else self.joint.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Inverse of :meth:`to_dict`."""
        return cls(
            id=data["id"],
            model=data["model"],
            model_version=data["model_version"],
            events=data["events"],
            features=_summary(data["features"]),
            prediction=None if data["prediction"] is None else _summary(data["prediction"]),
            performance=None
            if data["performance"] is None
            else PerformanceBaseline(**data["performance"]),
            calibration=None
            if data.get("calibration") is None
            else Calibration.from_dict(data["calibration"]),
            joint=None if data.get("joint") is None else Reconstruction.from_dict(data["joint"]),
        )


def _summary(data: dict[str, Any]) -> ColumnSummary:
    return ColumnSummary.from_dict(ColumnLayout.from_dict(data["layout"]), data["summary"])


class ReferenceSet:
    """The profiles of every model, looked up by model and version.

    Lookup falls back from the exact version to the model's last profile in the set (a
    new version is tested against the previous one's reference), then to a profile for
    any model (as a CSV reference gives).

    >>> refs = ReferenceSet([])
    >>> refs.find("fraud-scorer", "3") is None
    True
    """

    def __init__(self, profiles: list[ReferenceProfile]) -> None:
        self.profiles = {(p.model, p.model_version): p for p in profiles}
        self._latest = {p.model: p for p in profiles}

    def find(self, model: str, model_version: str) -> ReferenceProfile | None:
        """The profile to test ``model`` at ``model_version`` against, if any."""
        exact = self.profiles.get((model, model_version))
        return exact or self._latest.get(model) or self._latest.get(ANY)

    def __len__(self) -> int:
        return len(self.profiles)

    def to_dict(self) -> dict[str, Any]:
        """The file format: ``{"format": ..., "profiles": [...]}``."""
        return {"format": FORMAT, "profiles": [p.to_dict() for p in self.profiles.values()]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Inverse of :meth:`to_dict`; rejects other formats with a clear message."""
        if data.get("format") != FORMAT:
            raise ValueError(
                f"not a driftline reference (format {data.get('format')!r}, expected {FORMAT!r});"
                " build one with `driftline reference build` (files of an older format must be"
                " rebuilt from their data)"
            )
        return cls([ReferenceProfile.from_dict(p) for p in data["profiles"]])
