"""PCA reconstruction error: a reference's joint structure, and a window's departure from it.

:class:`Reconstruction` is fitted on a reference's numeric columns as NannyML's data
reconstruction drift does it: missing values take the reference mean, columns are
standardised with the reference's mean and std, and the principal components that
explain a set share of the variance are kept. An event's reconstruction error is the
Euclidean distance between its standardised values and their projection on those
components. A change in how features move together (a correlation that flips, with
every marginal unchanged) moves events off the reference's principal subspace and
raises the mean error.

:class:`ReconstructionSummary` is the per-pane accumulator: count, sum and sum of
squares of the error and, per column, the sum of squared residuals; exactly mergeable,
updated per micro-batch with two matrix products.
"""

from dataclasses import dataclass
from typing import Any, Self

import numpy as np
import scipy.linalg

from monitor.stats.numeric import FloatArray

__all__ = ["Reconstruction", "ReconstructionSummary"]


@dataclass(frozen=True, eq=False)
class Reconstruction:
    """A PCA of a reference's numeric columns and the reference's own reconstruction error.

    ``components`` holds the kept principal axes as orthonormal rows (in standardised
    units); ``error_mean`` and ``error_var`` are the mean and variance of the per-event
    error on the ``events`` reference rows, ``residual_means`` each column's mean squared
    residual there.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> a = rng.normal(size=2000)
    >>> values = np.column_stack([a, a + rng.normal(0, 0.5, 2000), rng.normal(size=2000)])
    >>> pca = Reconstruction.fit(("a", "b", "c"), values, 0.65)
    >>> pca.components.shape, round(pca.error_mean, 2)
    ((2, 3), 0.26)
    >>> flipped = np.column_stack([a, -a + rng.normal(0, 0.5, 2000), rng.normal(size=2000)])
    >>> round(float(pca.errors(flipped).mean()), 2)  # same marginals, far larger error
    1.1
    """

    names: tuple[str, ...]
    mean: FloatArray
    scale: FloatArray
    components: FloatArray
    error_mean: float
    error_var: float
    residual_means: FloatArray
    events: int

    @classmethod
    def fit(cls, names: tuple[str, ...], values: FloatArray, variance_share: float) -> Self | None:
        """Fit on ``values`` (rows x columns, NaN or infinite = missing); None when no test is
        possible: fewer than two columns or rows, or every component needed."""
        rows, width = values.shape
        if width < 2 or rows < 2:
            return None
        present = np.isfinite(values)
        counts = present.sum(axis=0)
        mean = np.divide(
            np.where(present, values, 0.0).sum(axis=0),
            counts,
            out=np.zeros(width),
            where=counts > 0,
        )
        filled = np.where(present, values, mean)
        scale = filled.std(axis=0)
        scale[scale == 0] = 1.0  # a constant column stays at zero, as StandardScaler leaves it
        standard = (filled - mean) / scale
        _, singular, axes = scipy.linalg.svd(standard, full_matrices=False)
        variance = singular**2
        if variance.sum() == 0:
            return None
        explained = np.cumsum(variance) / variance.sum()
        kept = int(np.searchsorted(explained, variance_share, side="right")) + 1
        if kept >= width:
            return None
        components = axes[:kept]
        residuals = standard - (standard @ components.T) @ components
        errors = np.sqrt(np.einsum("ij,ij->i", residuals, residuals))
        return cls(
            names=names,
            mean=mean,
            scale=scale,
            components=components,
            error_mean=float(errors.mean()),
            error_var=float(errors.var()),
            residual_means=(residuals**2).mean(axis=0),
            events=rows,
        )

    def residuals(self, values: FloatArray) -> FloatArray:
        """Standardised values minus their reconstruction, rows x columns (missing values
        take the reference mean: a zero residual in standardised units)."""
        standard = (values - self.mean) / self.scale
        standard[~np.isfinite(standard)] = 0.0
        projected: FloatArray = (standard @ self.components.T) @ self.components
        return standard - projected

    def errors(self, values: FloatArray) -> FloatArray:
        """Each row's reconstruction error."""
        residuals = self.residuals(values)
        return np.sqrt(np.einsum("ij,ij->i", residuals, residuals))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "names": list(self.names),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "components": self.components.tolist(),
            "error_mean": self.error_mean,
            "error_var": self.error_var,
            "residual_means": self.residual_means.tolist(),
            "events": self.events,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Inverse of :meth:`to_dict`."""
        width = len(data["names"])
        return cls(
            names=tuple(data["names"]),
            mean=np.array(data["mean"], dtype=np.float64),
            scale=np.array(data["scale"], dtype=np.float64),
            components=np.array(data["components"], dtype=np.float64).reshape(-1, width),
            error_mean=float(data["error_mean"]),
            error_var=float(data["error_var"]),
            residual_means=np.array(data["residual_means"], dtype=np.float64),
            events=int(data["events"]),
        )


class ReconstructionSummary:
    """Reconstruction errors of some events under one :class:`Reconstruction`.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> values = rng.normal(size=(500, 4)) @ [[1, .8, 0, 0], [0, .6, 0, 0], [0, 0, 1, 0],
    ...                                       [0, 0, 0, 1]]
    >>> pca = Reconstruction.fit(("a", "b", "c", "d"), values, 0.65)
    >>> one, two = ReconstructionSummary(pca), ReconstructionSummary(pca)
    >>> one.update(values[:200]); two.update(values[200:])
    >>> one += two
    >>> one.count, round(one.mean(), 6) == round(pca.error_mean, 6)
    (500, True)
    """

    def __init__(self, model: Reconstruction) -> None:
        self.model = model
        self.count = 0
        self.total = 0.0
        self.squares = 0.0
        self.residuals = np.zeros(len(model.names))

    def update(self, values: FloatArray) -> None:
        """Add a batch: rows x the model's columns, in its order (NaN = missing)."""
        if not len(values):
            return
        residuals = self.model.residuals(values)
        squared = residuals**2
        per_event = squared.sum(axis=1)
        self.count += len(values)
        self.total += float(np.sqrt(per_event).sum())
        self.squares += float(per_event.sum())
        self.residuals += squared.sum(axis=0)

    def mean(self) -> float:
        """Mean error (NaN when empty)."""
        return self.total / self.count if self.count else float("nan")

    def variance(self) -> float:
        """Variance of the error (population; NaN when empty)."""
        if not self.count:
            return float("nan")
        return max(self.squares / self.count - self.mean() ** 2, 0.0)

    def __iadd__(self, other: "ReconstructionSummary") -> Self:
        self.count += other.count
        self.total += other.total
        self.squares += other.squares
        self.residuals = self.residuals + other.residuals
        return self

    def copy(self) -> "ReconstructionSummary":
        """An independent copy under the same model."""
        result = ReconstructionSummary(self.model)
        result += self
        return result

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state (the model is the reference's, not saved here)."""
        return {
            "count": self.count,
            "total": self.total,
            "squares": self.squares,
            "residuals": self.residuals.tolist(),
        }

    @classmethod
    def from_dict(cls, model: Reconstruction, data: dict[str, Any]) -> "ReconstructionSummary":
        """Inverse of :meth:`to_dict`."""
        result = cls(model)
        result.count = data["count"]
        result.total = data["total"]
        result.squares = data["squares"]
        result.residuals = np.array(data["residuals"], dtype=np.float64)
        return result
