"""Calibration of a binary classifier's scores, and the calibrated scores of a window.

A :class:`Calibration` is an isotonic regression of the labels on the scores of a
labelled reference (``scipy.optimize.isotonic_regression``): a step function, kept as
the bins of its steps, with the 0.5 cut (where a score turns into a positive
prediction) always a bin edge. A window then needs only its count of scores per bin
(:class:`ScoreCounts`): every score in a bin has the same calibrated probability, so
the counts give every sum a label-free performance estimate needs
(:mod:`monitor.performance.estimate`).

A reference with more distinct scores than ``max_groups`` is first cut into that many
groups of equal event count, so a profile holds a few hundred numbers at most.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Self

import numpy as np
import numpy.typing as npt
from scipy.optimize import isotonic_regression
from scipy.stats import mannwhitneyu

from monitor.stats.columns import column_floats

__all__ = ["CUT", "Calibration", "ScoreCounts"]

CUT = 0.5
"""A score from this on is a positive prediction (as
:func:`monitor.stats.metrics.predicted_label` counts)."""

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class Calibration:
    """Isotonic calibration of scores in [0, 1] against 0/1 labels, in bins.

    A score ``s`` falls in bin ``searchsorted(edges, s, side="right")``; ``values`` are
    the bins' calibrated probabilities (non-decreasing), ``counts`` the reference's
    scores per bin, ``positive`` which bins are positive predictions. ``accuracy`` and
    ``roc_auc`` are the reference's realized values (``roc_auc`` is None with one class).

    Examples
    --------
    >>> calibration = Calibration.fit([0.125, 0.25, 0.75, 0.875], [0, 1, 0, 1])
    >>> calibration.edges.tolist(), calibration.values.tolist()  # 0.5 cuts the middle step
    ([0.1875, 0.5, 0.8125], [0.0, 0.5, 0.5, 1.0])
    >>> calibration.bin(np.array([0.125, 0.5, 0.95])).tolist(), calibration.positive.tolist()
    ([0, 2, 3], [False, False, True, True])
    >>> calibration.counts.tolist(), calibration.accuracy, calibration.roc_auc
    ([1, 1, 1, 1], 0.5, 0.75)
    >>> rng = np.random.default_rng(1)
    >>> scores = rng.random(100_000)
    >>> big = Calibration.fit(scores, rng.random(100_000) < scores)
    >>> big.values.size <= 201, round(big.accuracy, 3)
    (True, 0.75)
    """

    edges: FloatArray
    values: FloatArray
    counts: IntArray
    accuracy: float
    roc_auc: float | None

    @classmethod
    def fit(
        cls,
        scores: npt.ArrayLike,
        labels: npt.ArrayLike,
        max_groups: int = 200,
    ) -> Self:
        """Fit on a reference's scores and 0/1 (or boolean) labels."""
        s = np.asarray(scores, dtype=np.float64)
        y = np.asarray(labels, dtype=np.float64)
        if s.size == 0 or s.shape != y.shape:
            raise ValueError(f"need as many labels as scores, at least one: {s.size}, {y.size}")
        unique, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
        positives = np.bincount(inverse, weights=y)
        low = high = unique
        if unique.size > max_groups:  # groups of equal event count, whole distinct scores
            group = (np.cumsum(counts) - counts) * max_groups // s.size
            starts = np.flatnonzero(np.diff(group, prepend=-1))
            low, high = unique[starts], unique[np.r_[starts[1:], unique.size] - 1]
            counts, positives = np.add.reduceat(counts, starts), np.add.reduceat(positives, starts)
        fit = isotonic_regression(positives / counts, weights=counts)
        first = fit.blocks[:-1]
        edges = (high[first[1:] - 1] + low[first[1:]]) / 2
        values = fit.x[first]
        if CUT not in edges:  # split the step that holds the cut
            at = int(np.searchsorted(edges, CUT))
            edges, values = np.insert(edges, at, CUT), np.insert(values, at, values[at])
        predicted = s >= CUT
        positive = y.astype(bool)
        auc = None
        if 0 < positive.sum() < s.size:
            u = mannwhitneyu(s[positive], s[~positive]).statistic
            auc = float(u / (positive.sum() * (s.size - positive.sum())))
        counted = np.bincount(_bin(edges, s), minlength=values.size)
        return cls(edges, values, counted, float(np.mean(predicted == positive)), auc)

    @property
    def positive(self) -> npt.NDArray[np.bool_]:
        """Bins whose scores are positive predictions (at or above :data:`CUT`)."""
        return np.arange(self.values.size) > np.searchsorted(self.edges, CUT)

    def bin(self, scores: FloatArray) -> IntArray:
        """The bin of each score."""
        return _bin(self.edges, scores)

    def calibrate(self, scores: FloatArray) -> FloatArray:
        """The calibrated probability of each score."""
        return self.values[self.bin(scores)]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "edges": self.edges.tolist(),
            "values": self.values.tolist(),
            "counts": self.counts.tolist(),
            "accuracy": self.accuracy,
            "roc_auc": self.roc_auc,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Inverse of :meth:`to_dict`."""
        return cls(
            np.asarray(data["edges"], dtype=np.float64),
            np.asarray(data["values"], dtype=np.float64),
            np.asarray(data["counts"], dtype=np.int64),
            data["accuracy"],
            data["roc_auc"],
        )


def _bin(edges: FloatArray, scores: FloatArray) -> IntArray:
    return np.searchsorted(edges, scores, side="right").astype(np.int64)


class ScoreCounts:
    """A window's scores counted per bin of a :class:`Calibration`; mergeable.

    Values that are not numbers (None, strings) are left out.

    Examples
    --------
    >>> calibration = Calibration.fit([0.1, 0.2, 0.7, 0.9], [0, 1, 0, 1])
    >>> a, b = ScoreCounts(calibration), ScoreCounts(calibration)
    >>> a.update([0.1, None, 0.95])
    >>> b.update([0.6])
    >>> a += b
    >>> a.counts.tolist(), a.events
    ([1, 0, 1, 1], 3)
    """

    def __init__(self, calibration: Calibration) -> None:
        self.calibration = calibration
        self.counts = np.zeros(calibration.values.size, dtype=np.int64)

    @property
    def events(self) -> int:
        """Scores counted."""
        return int(self.counts.sum())

    def update(self, predictions: Sequence[Any]) -> None:
        """Count a batch of predictions."""
        scores, _ = column_floats(predictions)
        scores = scores[~np.isnan(scores)]
        self.counts += np.bincount(self.calibration.bin(scores), minlength=self.counts.size)

    def __iadd__(self, other: "ScoreCounts") -> Self:
        self.counts += other.counts
        return self

    def copy(self) -> "ScoreCounts":
        """An independent copy (sharing the calibration)."""
        result = ScoreCounts(self.calibration)
        result.counts = self.counts.copy()
        return result

    def to_dict(self) -> list[int]:
        """JSON-ready state: the counts."""
        return self.counts.tolist()

    @classmethod
    def from_dict(cls, calibration: Calibration, data: list[int]) -> "ScoreCounts":
        """Inverse of :meth:`to_dict`."""
        result = cls(calibration)
        result.counts = np.asarray(data, dtype=np.int64)
        return result
