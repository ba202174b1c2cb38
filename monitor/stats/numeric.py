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
    cells: "_Cells" = field(init=False, repr=False)
    """Uniform cells over the fine edges, to find values' fine bins (:func:`_fine_index`)."""

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
        object.__setattr__(self, "cells", _Cells.over(padded))

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


_CELLS = (1024, 4096, 16384)
"""Cells tried per column, fewest first, until at most two edges share a cell."""
_MAX_PASSES = 4
"""A column with more edges in one cell than this is binary-searched instead."""


@dataclass(frozen=True, eq=False)
class _Cells:
    """Uniform cells over each column's finite fine edges, so a value's fine bin is found
    without a branch on the data: the bin of its cell's lowest value, then one comparison
    per edge inside the cell (``passes``). Columns whose edges crowd into cells (a heavy
    tail spreads the range) are listed in ``searched``.

    A value's cell, :meth:`of`, only grows with the value, so every edge in a lower cell is
    below it and every edge in a higher cell above it.
    """

    low: FloatArray
    scale: FloatArray
    last: FloatArray
    """The last cell of each column (as a float, for clipping)."""
    offset: IntArray
    """Where each column's cells start in ``first``."""
    first: npt.NDArray[np.int32]
    """For each cell, the flat fine bin (column x fine_width + bin) of its lowest value."""
    edges: FloatArray
    """Fine edges, each column padded with +inf to fine_width, flat."""
    width: int
    """Fine bins per column, padding included."""
    passes: int
    searched: tuple[int, ...]

    @classmethod
    def over(cls, padded: FloatArray) -> "_Cells":
        columns, width = padded.shape[0], padded.shape[1] + 1
        low, scale, last = np.zeros(columns), np.zeros(columns), np.zeros(columns)
        firsts: list[IntArray] = []
        passes, searched = 0, []
        for j, edges in enumerate(padded):
            edges = edges[edges < np.inf]
            finite = np.isfinite(edges)
            if finite.any():
                low[j] = edges[finite][0]
                span = edges[finite][-1] - low[j]
            for cells in _CELLS:
                with np.errstate(divide="ignore", over="ignore"):
                    scale[j] = cells / span if finite.any() and span > 0 else 0.0
                scale[j] = scale[j] if np.isfinite(scale[j]) else 0.0
                last[j] = cells - 1
                cell = np.zeros(edges.size, dtype=np.intp)  # -inf: the first cell
                cell[finite] = cls._cell(edges[finite], low[j], scale[j], last[j])
                crowd = np.bincount(cell, minlength=cells)
                if crowd.max(initial=0) <= 2:
                    break
            firsts.append(j * width + np.concatenate(([0], np.cumsum(crowd)[:-1])))
            if crowd.max(initial=0) > _MAX_PASSES:
                searched.append(j)
            else:
                passes = max(passes, int(crowd.max(initial=0)))
        sizes = np.array([f.size for f in firsts], dtype=np.int64)
        offset = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64)
        first = np.concatenate(firsts).astype(np.int32) if firsts else np.zeros(0, np.int32)
        flat = np.concatenate((padded, np.full((columns, 1), np.inf)), axis=1).ravel()
        return cls(low, scale, last, offset, first, flat, width, passes, tuple(searched))

    @staticmethod
    def _cell(
        values: FloatArray,
        low: Any,
        scale: Any,
        last: Any,
        present: npt.NDArray[np.bool_] | None = None,
    ) -> npt.NDArray[np.intp]:
        """The cell of each finite value (``present`` False: cell 0); edges and values go
        through this same arithmetic, so a value equal to an edge shares its cell."""
        cell: FloatArray = values - low
        cell *= scale
        np.clip(cell, 0.0, last, out=cell)
        if present is not None:
            np.copyto(cell, 0.0, where=~present)
        return cell.astype(np.intp)

    def index(
        self, values: FloatArray, present: npt.NDArray[np.bool_] | None
    ) -> npt.NDArray[np.int32]:
        """Flat fine bin (column x fine_width + bin) of each finite value (rows x columns);
        where ``present`` is False (NaN), the bin is meaningless."""
        where = self._cell(values, self.low, self.scale, self.last, present)
        where += self.offset
        index = self.first.take(where)
        for _ in range(self.passes):
            index += values >= self.edges.take(index)
        width = self.width
        for j in self.searched:
            cuts = self.edges[j * width : (j + 1) * width - 1]
            index[:, j] = np.searchsorted(cuts, values[:, j], side="right") + j * width
        return index


_SEARCH_SMALL_BATCHES_BELOW = 64
"""Below this many rows, a layout with searched columns searches all: the cells' fixed
cost then outweighs their gain (1.6x slower at 1 row, 1.4x faster at 100)."""


def _finite(low: FloatArray, high: FloatArray) -> bool:
    return bool(np.isfinite(low).all() and np.isfinite(high).all())


def _searched_index(values: FloatArray, cuts: FloatArray) -> npt.NDArray[np.integer[Any]]:
    """Flat fine bin (column x fine_width + bin) of each value by :func:`_bin_index`."""
    index: npt.NDArray[np.integer[Any]] = _bin_index(values, cuts) + np.arange(cuts.shape[0]) * (
        cuts.shape[1] + 1
    )
    return index


def _fine_bins(
    values: FloatArray,
    index: npt.NDArray[np.integer[Any]],
    present: npt.NDArray[np.bool_],
    complete: bool,
    shape: tuple[int, int],
) -> tuple[IntArray, FloatArray]:
    """Count and sum per fine bin (``shape``: columns x fine_width) of the present values,
    given each value's flat fine bin."""
    if complete:
        counted, summed = index.ravel(order="F"), values.ravel(order="F")
    else:
        counted, summed = index.T[present.T], values.T[present.T]
    size = shape[0] * shape[1]
    counts = np.bincount(counted, minlength=size).reshape(shape)
    sums = np.bincount(counted, summed, minlength=size).reshape(shape)
    return counts.astype(np.int64, copy=False), sums.astype(np.float64, copy=False)


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
        cells = self.bins.cells
        small = values.shape[0] < _SEARCH_SMALL_BATCHES_BELOW and bool(cells.searched)
        index: npt.NDArray[np.integer[Any]]
        if not small and _finite(low[n > 0], high[n > 0]):
            index = cells.index(values, None if complete else present)
        else:  # an infinite value can lie past more edges than a cell holds
            index = _searched_index(values, self.bins.padded_edges)
        counts, sums = _fine_bins(values, index, present, complete, self.fine_counts.shape)
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
