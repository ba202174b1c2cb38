"""Mergeable summary of numeric columns: histogram on fixed bins, moments, range, missing.

Each column has two nested sets of bins cut at the reference's quantiles: coarse bins
(``reference.bins``, about 20) for the binned statistics (PSI, Jensen-Shannon,
chi-square), and fine bins (``reference.resolution``, about 200, plus edges far in the
tails) for the statistics of the continuous data (Wasserstein, KS). The summary keeps the
count and the sum of the values of each fine bin; coarse counts are sums of fine ones.

All columns of a model are summarised together, column-wise in numpy arrays, so one
micro-batch of events costs a few vectorised calls per column instead of work per event.
Memory is O(columns x fine bins) whatever the stream length.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Self

import numpy as np
import numpy.typing as npt

__all__ = ["NumericBins", "NumericSummary"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class NumericBins:
    """Fixed bins per numeric column, cut at the reference's quantiles.

    Column ``j`` has ``len(edges[j]) + 1`` coarse bins: bin ``i`` holds values ``x`` with
    ``edges[j][i-1] <= x < edges[j][i]``; the first and last bins are open-ended. ``fine``
    cuts the same way at more edges, every coarse edge among them (without ``fine``,
    the fine bins are the coarse ones). ``lo`` and ``hi`` are the reference's range (for
    the out-of-range share).

    >>> bins = NumericBins.from_quantiles(["x"], np.arange(100.0)[:, None], bins=4)
    >>> bins.edges[0].tolist(), bins.width
    ([24.75, 49.5, 74.25], 4)
    >>> fine = NumericBins.from_quantiles(["x"], np.arange(8.0)[:, None], 2, resolution=4)
    >>> fine.edges[0].tolist(), fine.fine[0].tolist(), fine.coarse_index.tolist()
    ([3.5], [1.0, 3.0, 3.5, 5.0], [[0, 0, 0, 1, 1]])
    """

    names: tuple[str, ...]
    edges: tuple[FloatArray, ...]
    lo: FloatArray
    hi: FloatArray
    fine: tuple[FloatArray, ...] = ()
    """Fine edges per column, a superset of ``edges``; empty: the coarse edges."""

    padded_edges: FloatArray = field(init=False, repr=False)
    """Fine edges as one (columns x fine_width - 1) array, padded with +inf, for binning."""
    coarse_index: IntArray = field(init=False, repr=False)
    """The coarse bin of each fine bin (columns x fine_width); padding maps to bin 0."""

    def __post_init__(self) -> None:
        if not len(self.names) == len(self.edges) == len(self.lo) == len(self.hi):
            raise ValueError("names, edges, lo and hi must have one entry per column")
        if not self.fine:
            object.__setattr__(self, "fine", self.edges)
        if len(self.fine) != len(self.edges):
            raise ValueError("fine must have one entry per column")
        padded = np.full((len(self.names), self.fine_width - 1), np.inf)
        coarse_index = np.zeros((len(self.names), self.fine_width), dtype=np.int64)
        for j, (edges, fine) in enumerate(zip(self.edges, self.fine, strict=True)):
            if not np.isin(edges, fine).all():
                raise ValueError(f"column {self.names[j]!r}: every coarse edge must be a fine one")
            padded[j, : fine.size] = fine
            lower = np.concatenate(([-np.inf], fine))  # a fine bin's lower edge
            coarse_index[j, : lower.size] = np.searchsorted(edges, lower, side="right")
        object.__setattr__(self, "padded_edges", padded)
        object.__setattr__(self, "coarse_index", coarse_index)

    @property
    def width(self) -> int:
        """Number of coarse bins of the widest column (narrower columns are zero-padded)."""
        return max((len(e) + 1 for e in self.edges), default=1)

    @property
    def fine_width(self) -> int:
        """Number of fine bins of the widest column (narrower columns are zero-padded)."""
        return max((len(e) + 1 for e in self.fine), default=1)

    @classmethod
    def from_quantiles(
        cls,
        names: list[str],
        values: FloatArray,
        bins: int | Sequence[int],
        resolution: int | None = None,
    ) -> Self:
        """Cut each column of ``values`` (rows x columns, NaN = missing) at its quantiles.

        ``bins`` coarse bins, or ``bins[j]`` for column ``j``; with ``resolution``, fine
        bins at that many quantiles, the coarse edges, and edges in each tail at tail
        shares 1 / (2 resolution), 1 / (4 resolution), ... down to one value, so a heavy
        tail is cut finely too.
        Fine quantiles are values of the column (``inverted_cdf``) and repeated ones
        collapse, so a discrete column gets one fine bin per value.
        """
        per_column = np.broadcast_to(np.asarray(bins, dtype=np.int64), (values.shape[1],))
        if (per_column < 2).any():
            raise ValueError(f"bins must be at least 2, got {bins}")
        edges, fine, lo, hi = [], [], [], []
        for j in range(values.shape[1]):
            probabilities = np.linspace(0.0, 1.0, int(per_column[j]) + 1)[1:-1]
            column = values[:, j]
            column = column[~np.isnan(column)]
            if column.size == 0:
                edges.append(np.empty(0))
                fine.append(np.empty(0))
                lo.append(np.nan)
                hi.append(np.nan)
                continue
            edges.append(np.unique(np.quantile(column, probabilities)))
            levels = _fine_probabilities(resolution, column.size)
            extra = np.quantile(column, levels, method="inverted_cdf")  # values: ties kept
            fine.append(np.unique(np.concatenate((edges[-1], extra))))
            lo.append(float(column.min()))
            hi.append(float(column.max()))
        return cls(tuple(names), tuple(edges), np.array(lo), np.array(hi), tuple(fine))

    def anchors(self) -> FloatArray:
        """A value inside or at the edge of each fine bin (columns x fine_width): its lower
        edge, or the upper edge for the first bin; padding bins repeat the last anchor. The
        position of a bin with no values, so positions stay sorted and finite.

        >>> NumericBins(("x",), (np.array([1.0, 2.0]),), np.zeros(1), np.ones(1)).anchors()
        array([[1., 1., 2.]])
        """
        out = np.zeros((len(self.names), self.fine_width))
        for j, fine in enumerate(self.fine):
            if fine.size:
                out[j, : fine.size + 1] = np.concatenate((fine[:1], fine))
                out[j, fine.size + 1 :] = fine[-1]
        return out

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "names": list(self.names),
            "edges": [e.tolist() for e in self.edges],
            "fine": [e.tolist() for e in self.fine],
            "lo": _floats(self.lo),
            "hi": _floats(self.hi),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Inverse of :meth:`to_dict`; refuses bins saved before fine bins existed."""
        if "fine" not in data:
            raise ValueError(
                "numeric bins without fine bins (saved before driftline.reference/2): rebuild"
                " the reference with `driftline reference build` and start from a new state"
            )
        return cls(
            tuple(data["names"]),
            tuple(np.asarray(e, dtype=np.float64) for e in data["edges"]),
            _array(data["lo"]),
            _array(data["hi"]),
            tuple(np.asarray(e, dtype=np.float64) for e in data["fine"]),
        )


def _fine_probabilities(resolution: int | None, size: int) -> FloatArray:
    """Quantile levels of the fine edges: ``resolution`` bins, then halving tail shares."""
    if resolution is None:
        return np.empty(0)
    if resolution < 2:
        raise ValueError(f"resolution must be at least 2, got {resolution}")
    tail = 1.0 / (2.0 * resolution)
    tails = tail * 0.5 ** np.arange(max(int(np.ceil(np.log2(tail * size))), 0))
    return np.concatenate((np.linspace(0.0, 1.0, resolution + 1)[1:-1], tails, 1.0 - tails))


_COMPARE_UP_TO_EDGES = 32
"""Up to this many edges per column, a pass over the batch per edge beats a binary search
per value (3x at 19 edges); beyond, the search's log cost wins."""


def _bin_index(values: FloatArray, cuts: FloatArray) -> npt.NDArray[np.integer[Any]]:
    """Each value's bin: the number of its column's edges <= it (searchsorted's "right"
    side), in column-major order like ``values``. NaN compares False everywhere; its bin is
    meaningless and must be masked."""
    if cuts.shape[1] <= _COMPARE_UP_TO_EDGES:
        index = np.zeros_like(values, dtype=np.int8, order="F")  # int8: up to 32 edges
        above = np.empty_like(values, dtype=np.bool_, order="F")
        for edge in cuts.T:  # one edge of every column
            np.greater_equal(values, edge, out=above)
            index += above.view(np.int8)
        return index
    values = np.asfortranarray(values)  # one column at a time: make columns contiguous
    index = np.empty_like(values, dtype=np.intp, order="F")
    for j in range(cuts.shape[0]):
        index[:, j] = np.searchsorted(cuts[j], values[:, j], side="right")
    return index


_SORT_FROM_ROWS = 16
"""From this many rows, binning sorted columns beats a binary search per value in the
batch's order, whose branches mispredict (1.6x at 100 rows, 2.2x at 1,000)."""


def _finite(low: FloatArray, high: FloatArray) -> bool:
    return bool(np.isfinite(low).all() and np.isfinite(high).all())


def _indexed_fine_bins(
    values: FloatArray, cuts: FloatArray, present: npt.NDArray[np.bool_], complete: bool
) -> tuple[IntArray, FloatArray]:
    """Count and sum per fine bin (columns x fine_width) from each value's bin."""
    columns, width = cuts.shape[0], cuts.shape[1] + 1
    bin_index = _bin_index(values, cuts) + np.arange(columns) * width
    if complete:
        counted, summed = bin_index.ravel(order="F"), values.ravel(order="F")
    else:
        counted, summed = bin_index.T[present.T], values.T[present.T]
    counts = np.bincount(counted, minlength=columns * width).reshape(columns, width)
    sums = np.bincount(counted, summed, minlength=columns * width).reshape(columns, width)
    return counts.astype(np.int64, copy=False), sums.astype(np.float64, copy=False)


def _sorted_fine_bins(
    values: FloatArray, cuts: FloatArray, n: IntArray
) -> tuple[IntArray, FloatArray]:
    """Count and sum per fine bin (columns x fine_width), each column sorted first.

    Values must be finite or NaN (missing); ``n`` counts the present ones per column.
    With few rows per bin, each sorted value is located among the edges (sorted queries:
    the search's branches predict well); with many, each edge among the sorted values,
    a bin being the run of values between the positions of its edges.
    """
    columns, width = cuts.shape[0], cuts.shape[1] + 1
    rows = values.shape[0]
    ordered = np.array(values.T, order="C")  # one column per row, contiguous
    ordered.sort(axis=1)  # NaN last
    missing = np.arange(rows) >= n[:, None] if n.sum() < values.size else None
    if rows < 3 * width:
        index = np.empty((columns, rows), dtype=np.intp)
        for j in range(columns):
            index[j] = np.searchsorted(cuts[j], ordered[j], side="right")
        index += (np.arange(columns) * width)[:, None]
        if missing is not None:
            index[missing] = columns * width  # a bin past the last, dropped
        size = columns * width + 1
        counts = np.bincount(index.ravel(), minlength=size)[:-1]
        sums = np.bincount(index.ravel(), ordered.ravel(), minlength=size)[:-1]
        return (
            counts.reshape(columns, width).astype(np.int64, copy=False),
            sums.reshape(columns, width).astype(np.float64, copy=False),
        )
    ends = np.empty((columns, width), dtype=np.intp)  # position after each bin's values
    for j in range(columns):
        ends[j, :-1] = np.searchsorted(ordered[j], cuts[j], side="left")  # values < edge
    ends[:, -1] = n
    runs = np.diff(ends, axis=1, prepend=0)
    if missing is not None:
        ordered[missing] = 0.0
    # Each non-empty bin is summed from its start up to the next non-empty bin's start;
    # between them lie only values of its bin or zeroed missing ones.
    starts = (ends - runs + (np.arange(columns) * rows)[:, None]).ravel()
    nonempty = runs.ravel() > 0
    run_sums = np.zeros(columns * width)
    if nonempty.any():
        run_sums[nonempty] = np.add.reduceat(ordered.ravel(), starts[nonempty])
    return runs.astype(np.int64, copy=False), run_sums.reshape(columns, width)


class NumericSummary:
    """Counts and sums per fine bin, count, mean, variance, range and quality counters
    per column.

    Two summaries over the same bins add up exactly (``a + b``), as if one had seen both
    streams: counts and sums add and the moments combine with Chan et al.'s parallel
    formula. :attr:`counts` are the counts on the coarse bins, :meth:`means` each fine
    bin's mean.

    Examples
    --------
    >>> rng = np.random.default_rng(42)
    >>> bins = NumericBins.from_quantiles(["x"], rng.normal(size=(1000, 1)), bins=10)
    >>> a, b = NumericSummary(bins), NumericSummary(bins)
    >>> a.update(np.array([[1.0], [np.nan], [3.0]]))
    >>> b.update(np.array([[5.0]]))
    >>> total = a + b
    >>> total.count.tolist(), total.mean.tolist(), total.variance(ddof=1).tolist()
    ([3], [3.0], [4.0])
    >>> total.missing.tolist(), int(total.counts.sum()), int(total.fine_counts.sum())
    ([1], 3, 3)
    """

    def __init__(self, bins: NumericBins) -> None:
        self.bins = bins
        self._reset()

    def _reset(self) -> None:
        columns = len(self.bins.names)
        self.fine_counts: IntArray = np.zeros((columns, self.bins.fine_width), dtype=np.int64)
        self.fine_sums: FloatArray = np.zeros((columns, self.bins.fine_width))
        self._counts: IntArray | None = None
        self.count: IntArray = np.zeros(columns, dtype=np.int64)
        self.mean: FloatArray = np.zeros(columns)
        self.m2: FloatArray = np.zeros(columns)
        self.min: FloatArray = np.full(columns, np.inf)
        self.max: FloatArray = np.full(columns, -np.inf)
        self.missing: IntArray = np.zeros(columns, dtype=np.int64)
        self.mismatched: IntArray = np.zeros(columns, dtype=np.int64)
        self.out_of_range: IntArray = np.zeros(columns, dtype=np.int64)

    @property
    def counts(self) -> IntArray:
        """Counts on the coarse bins (columns x width), summed from the fine ones.

        The same array until the summary changes, so it can key a cache.
        """
        if self._counts is None:
            columns, width = len(self.bins.names), self.bins.width
            index = self.bins.coarse_index + np.arange(columns)[:, None] * width
            summed = np.bincount(index.ravel(), self.fine_counts.ravel(), minlength=columns * width)
            self._counts = summed.astype(np.int64).reshape(columns, width)
        return self._counts

    def means(self) -> FloatArray:
        """Each fine bin's mean (columns x fine_width); ``anchor`` where it is empty."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(
                self.fine_counts > 0, self.fine_sums / self.fine_counts, self.bins.anchors()
            )

    @property
    def total(self) -> IntArray:
        """Values seen per column, including missing and mismatched ones."""
        return self.count + self.missing + self.mismatched

    def update(self, values: FloatArray, mismatched: IntArray | None = None) -> None:
        """Add a batch: ``values`` is rows x columns, NaN for missing.

        ``mismatched`` counts, per column, values of the wrong type, passed as NaN.
        """
        if values.shape[0] == 0:
            return
        present = ~np.isnan(values)
        n = np.count_nonzero(present, axis=0)
        complete = int(n.sum()) == values.size  # no value missing: no masks needed below
        absent = values.shape[0] - n
        if mismatched is not None:  # mismatched values arrive as NaN, but are not missing
            self.mismatched += mismatched
            absent = absent - mismatched
        self.missing += absent
        if complete:
            mean = values.mean(axis=0)
            deviation = values - mean
            low, high = values.min(axis=0), values.max(axis=0)
        else:
            mean = np.where(present, values, 0.0).sum(axis=0) / np.maximum(n, 1)
            deviation = np.where(present, values - mean, 0.0)
            low = np.where(present, values, np.inf).min(axis=0)
            high = np.where(present, values, -np.inf).max(axis=0)
        cuts = self.bins.padded_edges
        if values.shape[0] >= _SORT_FROM_ROWS and _finite(low[n > 0], high[n > 0]):
            counts, sums = _sorted_fine_bins(values, cuts, n)
        else:
            counts, sums = _indexed_fine_bins(values, cuts, present, complete)
        self.fine_counts += counts
        self.fine_sums += sums
        self._counts = None
        with np.errstate(invalid="ignore"):  # counted only when some value is outside
            if (low < self.bins.lo).any() or (high > self.bins.hi).any():
                outside = (values < self.bins.lo) | (values > self.bins.hi)
                self.out_of_range += outside.sum(axis=0)
        self._merge(n, mean, np.einsum("ij,ij->j", deviation, deviation), low, high)

    def _merge(
        self,
        n_b: IntArray,
        mean_b: FloatArray,
        m2_b: FloatArray,
        low: FloatArray,
        high: FloatArray,
    ) -> None:
        """Chan et al.'s parallel update of count, mean and M2, and the range."""
        n_a = self.count
        total = n_a + n_b
        share_b = n_b / np.maximum(total, 1)
        delta = mean_b - self.mean
        self.mean = self.mean + delta * share_b
        self.m2 = self.m2 + m2_b + delta * delta * n_a * share_b
        self.count = total
        self.min = np.minimum(self.min, low)
        self.max = np.maximum(self.max, high)

    def variance(self, ddof: int = 0) -> FloatArray:
        """Variance per column (NaN where there are too few values)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.count > ddof, self.m2 / (self.count - ddof), np.nan)

    def __iadd__(self, other: "NumericSummary") -> Self:
        if other.bins is not self.bins and other.bins.names != self.bins.names:
            raise ValueError("cannot merge summaries over different columns")
        self._merge(other.count, other.mean, other.m2, other.min, other.max)
        self.fine_counts = self.fine_counts + other.fine_counts
        self.fine_sums = self.fine_sums + other.fine_sums
        self._counts = None
        self.missing = self.missing + other.missing
        self.mismatched = self.mismatched + other.mismatched
        self.out_of_range = self.out_of_range + other.out_of_range
        return self

    def __add__(self, other: "NumericSummary") -> "NumericSummary":
        result = self.copy()
        result += other
        return result

    def copy(self) -> "NumericSummary":
        """An independent copy over the same bins."""
        result = NumericSummary.__new__(NumericSummary)
        result.bins = self.bins
        result._counts = None
        for name in _STATE:
            setattr(result, name, getattr(self, name).copy())
        return result

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state (the bins are stored once, with the reference)."""
        return {name: _floats(getattr(self, name)) for name in _STATE}

    @classmethod
    def from_dict(cls, bins: NumericBins, data: dict[str, Any]) -> "NumericSummary":
        """Inverse of :meth:`to_dict`."""
        result = cls(bins)
        for name in _STATE:
            current = getattr(result, name)
            value = np.asarray(_array(data[name]), dtype=current.dtype).reshape(current.shape)
            setattr(result, name, value)
        return result


_STATE = (
    "fine_counts",
    "fine_sums",
    "count",
    "mean",
    "m2",
    "min",
    "max",
    "missing",
    "mismatched",
    "out_of_range",
)


def _floats(values: npt.NDArray[Any]) -> Any:
    """``tolist()`` with non-finite floats as strings, since JSON has no NaN or infinity."""
    if values.dtype.kind != "f" or np.isfinite(values).all():
        return values.tolist()
    return (
        [v if np.isfinite(v) else str(v) for v in values.tolist()]
        if values.ndim == 1
        else [_floats(row) for row in values]
    )


def _array(values: Any) -> FloatArray:
    return np.array(values, dtype=np.float64)
