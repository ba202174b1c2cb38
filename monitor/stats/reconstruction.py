"""PCA reconstruction error: a reference's joint structure, and a window's departure from it.

:class:`Reconstruction` is fitted on a reference's numeric columns as NannyML's data
reconstruction drift does it: missing values take the reference mean, columns are
standardised with the reference's mean and std, and the principal components that
explain a set share of the variance are kept. An event's reconstruction error is the
Euclidean distance between its standardised values and their projection on those
components, capped at the reference's 99.9th percentile of it. A change in how features
move together (a correlation that flips, with every marginal unchanged) moves events off
the reference's principal subspace and raises the mean error.

:class:`ReconstructionSummary` is the per-pane accumulator: count, sum and sum of
squares of the error and, per column, the sum of squared residuals; exactly mergeable,
updated per micro-batch with two matrix products.
"""

from dataclasses import dataclass
from typing import Any, Self

import numpy as np
import scipy.linalg

from monitor.stats.numeric import FloatArray

__all__ = ["CAP_QUANTILE", "Reconstruction", "ReconstructionSummary"]

CAP_QUANTILE = 0.999
"""Errors are capped at this quantile of the reference's. Uncapped, one event with a
heavy-tailed feature (Student t, 3 dof) far out moved a 500-event window's mean past 5
standard errors in 1 window in 4,000, and stayed in every overlapping window; capped, a
window's mean is a mean of bounded values, as close to normal as the z test assumes."""


@dataclass(frozen=True, eq=False)
class Reconstruction:
    """A PCA of a reference's numeric columns and the reference's own reconstruction error.

    ``components`` holds the kept principal axes as orthonormal rows (in standardised
    units); ``error_cap`` is the :data:`CAP_QUANTILE` quantile of the per-event error on
    the ``events`` held-out reference rows, ``error_mean`` and ``error_var`` the mean and
    variance there of the capped error, ``residual_means`` each column's mean squared
    residual (scaled as the error is capped: they add up to the capped error squared).

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
    0.69
    """

    names: tuple[str, ...]
    mean: FloatArray
    scale: FloatArray
    components: FloatArray
    error_cap: float
    error_mean: float
    error_var: float
    residual_means: FloatArray
    events: int

    @classmethod
    def fit(cls, names: tuple[str, ...], values: FloatArray, variance_share: float) -> Self | None:
        """Fit on ``values`` (rows x columns, NaN or infinite = missing): standardised with
        the mean and std of every row, the PCA of the even rows, the error of the odd ones.
        None when no test is possible: fewer than two columns or four rows, every component
        needed, or the kept ones explain all the variance."""
        rows, width = values.shape
        if width < 2 or rows < 4:
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
        # Fitted on half the rows, its error measured on the other half: on its own rows a
        # PCA's error is biased low, as the kept axes follow those rows' noise (20 features,
        # 5,000 rows: stationary windows sat 3.5 standard errors above the in-sample mean).
        fitting, held_out = standard[::2], standard[1::2]
        _, singular, axes = scipy.linalg.svd(fitting, full_matrices=False)
        variance = singular**2
        if variance.sum() == 0:
            return None
        explained = np.cumsum(variance) / variance.sum()
        kept = int(np.searchsorted(explained, variance_share, side="right")) + 1
        if kept >= width or explained[kept - 1] > 1 - 1e-12:  # nothing left to reconstruct
            return None
        # C order, as from_dict makes it: the products then round alike before and after
        # a checkpoint (LAPACK returns the axes in Fortran order)
        components = np.ascontiguousarray(axes[:kept])
        residuals = held_out - (held_out @ components.T) @ components
        cap = float(np.quantile(np.sqrt(np.einsum("ij,ij->i", residuals, residuals)), CAP_QUANTILE))
        squared, errors = _capped(residuals, cap)
        return cls(
            names=names,
            mean=mean,
            scale=scale,
            components=components,
            error_cap=cap,
            error_mean=float(errors.mean()),
            error_var=float(errors.var()),
            residual_means=squared.mean(axis=0),
            events=len(held_out),
        )

    def residuals(self, values: FloatArray) -> FloatArray:
        """Standardised values minus their reconstruction, rows x columns (missing values
        take the reference mean: a zero residual in standardised units)."""
        standard = (values - self.mean) / self.scale
        standard[~np.isfinite(standard)] = 0.0
        projected: FloatArray = (standard @ self.components.T) @ self.components
        return standard - projected

    def errors(self, values: FloatArray) -> FloatArray:
        """Each row's reconstruction error, capped at ``error_cap``."""
        return _capped(self.residuals(values), self.error_cap)[1]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "names": list(self.names),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "components": self.components.tolist(),
            "error_cap": self.error_cap,
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
            error_cap=float(data["error_cap"]),
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
    >>> one.count, bool(np.isclose(one.mean(), pca.errors(values).mean()))
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
        squared, errors = _capped(self.model.residuals(values), self.model.error_cap)
        self.count += len(values)
        self.total += float(errors.sum())
        self.squares += float(errors @ errors)
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


def _capped(residuals: FloatArray, cap: float) -> tuple[FloatArray, FloatArray]:
    """Squared residuals scaled down where a row's error passes ``cap``, and the capped
    errors (a row's scaled squares add up to its capped error squared)."""
    squared = residuals**2
    errors = np.sqrt(squared.sum(axis=1))
    capped = np.minimum(errors, cap)
    over = errors > cap
    if over.any():
        squared[over] *= ((capped[over] / errors[over]) ** 2)[:, None]
    return squared, capped
