"""The limit: histograms and PSI in plain numpy, what a drift check costs at the least.

Two parts timed apart, like driftline's:

- ``reference``: quantile edges per numeric feature (``np.quantile``, 20 bins), the
  reference's histograms (``np.searchsorted`` + ``np.bincount``), and the reference's
  category counts (``np.unique``);
- ``window``: the current set's histograms and category counts on the reference's bins
  (unseen categories in one "other" bucket), and the PSI of every feature.

A feature drifts when its PSI reaches 0.2 (driftline's default PSI threshold).
"""

import argparse
from time import perf_counter

import numpy as np
import numpy.typing as npt
from harness import DataSet, Outcome, main

BINS = 20
THRESHOLD = 0.2
FLOOR = 1e-4
"""Shares are floored here before the logarithm (an empty bin)."""

Counts = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]


def psi(reference: Counts, current: Counts) -> Floats:
    """Population stability index per row of two count arrays (features x bins)."""
    p = np.maximum(reference / reference.sum(axis=-1, keepdims=True), FLOOR)
    q = np.maximum(current / current.sum(axis=-1, keepdims=True), FLOOR)
    result: Floats = ((q - p) * np.log(q / p)).sum(axis=-1)
    return result


def histograms(values: Floats, edges: Floats) -> Counts:
    """Counts per bin (features x bins) of each column, on that column's edges."""
    counts = np.empty((values.shape[1], edges.shape[0] + 1), dtype=np.int64)
    for j in range(values.shape[1]):
        index = np.searchsorted(edges[:, j], values[:, j], side="right")
        counts[j] = np.bincount(index, minlength=counts.shape[1])
    return counts


def aligned(values: npt.NDArray[np.str_], categories: npt.NDArray[np.str_]) -> Counts:
    """Counts of ``values`` per known (sorted) category, then one bucket for the others."""
    seen, counts = np.unique(values, return_counts=True)
    where = np.minimum(np.searchsorted(categories, seen), categories.size - 1)
    slot = np.where(categories[where] == seen, where, categories.size)
    out = np.zeros(categories.size + 1, dtype=np.int64)
    np.add.at(out, slot, counts)
    return out


def prepare(data: DataSet, args: argparse.Namespace) -> None:
    """Nothing to prepare: numpy works on the arrays as loaded."""


def call(state: None, data: DataSet, args: argparse.Namespace) -> Outcome:
    """Reference bins and counts, then the current counts and every feature's PSI."""
    started = perf_counter()
    probabilities = np.linspace(0.0, 1.0, BINS + 1)[1:-1]
    edges = np.quantile(data.reference_numeric, probabilities, axis=0)
    reference_numeric = histograms(data.reference_numeric, edges)
    reference_categories = []
    for j in range(data.reference_categorical.shape[1]):
        categories, counts = np.unique(data.reference_categorical[:, j], return_counts=True)
        reference_categories.append((categories, np.append(counts, 0)))
    built = perf_counter()
    scores = list(psi(reference_numeric, histograms(data.current_numeric, edges)))
    for j, (categories, counts) in enumerate(reference_categories):
        scores.append(psi(counts, aligned(data.current_categorical[:, j], categories)))
    done = perf_counter()
    flagged = [name for name, score in zip(data.names, scores, strict=True) if score >= THRESHOLD]
    return Outcome(
        {"reference": built - started, "window": done - built},
        flagged,
        info={"psi": {n: round(float(s), 4) for n, s in zip(data.names, scores, strict=True)}},
    )


if __name__ == "__main__":
    raise SystemExit(main("numpy", ["numpy"], prepare, call))
