"""A versioned summary of a model's reference data: what windows are tested against.

A profile holds, per model and version, the column layout (quantile bins, categories),
the reference's own summary on those bins, the prediction's, the label performance when
the reference had labels, and the PCA of its numeric features (joint drift). Its id
names model, version and a content hash, so every alert says exactly which reference it
was tested against.
"""

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Self

from monitor.stats.columns import ColumnLayout, ColumnSummary
from monitor.stats.loss import Task
from monitor.stats.reconstruction import Reconstruction

__all__ = ["ANY", "FORMAT", "PerformanceBaseline", "ReferenceProfile", "ReferenceSet"]

FORMAT = "driftline.reference/1"
ANY = "*"
"""Model or version of a profile that applies to any (a CSV reference has no model)."""


@dataclass(frozen=True)
class PerformanceBaseline:
    """Mean and variance of the per-event loss on labelled reference events.

    >>> PerformanceBaseline("classification", loss_mean=0.1, loss_var=0.09, events=100).value
    0.9
    """

    task: Task
    loss_mean: float
    loss_var: float
    events: int

    @property
    def metric(self) -> str:
        """``accuracy`` for classifiers, ``mae`` for regressors."""
        return "accuracy" if self.task == "classification" else "mae"

    @property
    def value(self) -> float:
        """The metric's value: accuracy, or mean absolute error."""
        return 1.0 - self.loss_mean if self.task == "classification" else self.loss_mean


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
                " build one with `driftline reference build`"
            )
        return cls([ReferenceProfile.from_dict(p) for p in data["profiles"]])
