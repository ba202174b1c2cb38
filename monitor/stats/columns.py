"""A model's columns (numeric and categorical) and their joint, mergeable summary.

:class:`ColumnLayout` says which columns are numeric or categorical and how each is
binned; it comes from the reference. :class:`ColumnSummary` is the hot path: it turns a
micro-batch of feature dicts into a few numpy arrays and updates both summaries.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from typing import Any, Self

import numpy as np

from monitor.stats.categorical import CategoricalBins, CategoricalSummary
from monitor.stats.numeric import FloatArray, IntArray, NumericBins, NumericSummary

__all__ = ["ColumnLayout", "ColumnSummary", "gather_rows", "row_getter", "to_floats"]

_NUMERIC_TYPES = frozenset({float, type(None)})


@dataclass(frozen=True, eq=False)
class ColumnLayout:
    """Which columns a model has, and their bins.

    >>> layout = ColumnLayout(
    ...     NumericBins(("amount",), (np.array([10.0]),), np.array([0.0]), np.array([99.0])),
    ...     CategoricalBins(("country",), (("DE",),), ("string",)),
    ... )
    >>> layout.names
    ('amount', 'country')
    """

    numeric: NumericBins
    categorical: CategoricalBins

    @property
    def names(self) -> tuple[str, ...]:
        """Numeric columns first, then categorical ones."""
        return self.numeric.names + self.categorical.names

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {"numeric": self.numeric.to_dict(), "categorical": self.categorical.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Inverse of :meth:`to_dict`."""
        return cls(
            NumericBins.from_dict(data["numeric"]),
            CategoricalBins.from_dict(data["categorical"]),
        )


class ColumnSummary:
    """Numeric and categorical summaries of one layout, updated batch by batch.

    Examples
    --------
    >>> layout = ColumnLayout(
    ...     NumericBins(("amount",), (np.array([10.0]),), np.array([0.0]), np.array([99.0])),
    ...     CategoricalBins(("country",), (("DE",),), ("string",)),
    ... )
    >>> summary = ColumnSummary(layout)
    >>> summary.update_rows([{"amount": 5.0, "country": "DE"}, {"amount": "oops"}])
    >>> summary.numeric.counts.tolist(), summary.numeric.mismatched.tolist()
    ([[1, 0]], [1])
    >>> summary.categorical.missing.tolist()
    [1]
    """

    def __init__(self, layout: ColumnLayout) -> None:
        self.layout = layout
        self.numeric = NumericSummary(layout.numeric)
        self.categorical = CategoricalSummary(layout.categorical)
        self._getter = row_getter(layout.names)

    def update_rows(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Add a batch of rows (feature name -> value); absent names count as missing."""
        if not rows or not self.layout.names:
            return
        # one C-level call per row, then a transpose: columns without per-value Python
        columns = list(zip(*gather_rows(rows, self._getter, self.layout.names), strict=True))
        split = len(self.layout.numeric.names)
        if split:
            values, mismatched = to_floats(columns[:split], len(rows))
            self.numeric.update(values, mismatched)
        if split < len(columns):
            self.categorical.update(columns[split:])

    def update_values(self, values: Sequence[Any]) -> None:
        """Add a batch of values of a one-column layout (such as the prediction)."""
        if not values:
            return
        if self.layout.numeric.names:
            floats, mismatched = to_floats([values], len(values))
            self.numeric.update(floats, mismatched)
        else:
            self.categorical.update([values])

    def __iadd__(self, other: "ColumnSummary") -> Self:
        self.numeric += other.numeric
        self.categorical += other.categorical
        return self

    def copy(self) -> "ColumnSummary":
        """An independent copy over the same layout."""
        result = ColumnSummary.__new__(ColumnSummary)
        result.layout = self.layout
        result.numeric = self.numeric.copy()
        result.categorical = self.categorical.copy()
        result._getter = self._getter
        return result

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state."""
        return {"numeric": self.numeric.to_dict(), "categorical": self.categorical.to_dict()}

    @classmethod
    def from_dict(cls, layout: ColumnLayout, data: dict[str, Any]) -> "ColumnSummary":
        """Inverse of :meth:`to_dict`."""
        result = cls(layout)
        result.numeric = NumericSummary.from_dict(layout.numeric, data["numeric"])
        result.categorical = CategoricalSummary.from_dict(layout.categorical, data["categorical"])
        return result


def row_getter(names: tuple[str, ...]) -> Any:
    if len(names) == 1:
        name = names[0]
        return lambda row: (row[name],)
    return itemgetter(*names) if names else None


def gather_rows(
    rows: Sequence[Mapping[str, Any]], getter: Any, names: tuple[str, ...]
) -> list[tuple[Any, ...]]:
    """Rows as tuples in column order: one C-level call per row when no column is absent."""
    try:
        return list(map(getter, rows))
    except KeyError:
        return [tuple(row.get(name) for name in names) for row in rows]


def _is_number(value: Any) -> bool:
    return value is None or (isinstance(value, float | int) and not isinstance(value, bool))


def to_floats(columns: Sequence[Sequence[Any]], rows: int) -> tuple[FloatArray, IntArray | None]:
    """Rows x columns floats (NaN = missing) from column sequences, and, per column, the
    count of values that are not numbers (passed as NaN), or None when there are none."""
    width = len(columns)
    if set(map(type, chain.from_iterable(columns))) <= _NUMERIC_TYPES:
        return np.array(columns, dtype=np.float64).reshape(width, rows).T, None
    mismatched = np.zeros(width, dtype=np.int64)
    clean = []
    for j, column in enumerate(columns):
        flags = [_is_number(v) for v in column]
        mismatched[j] = flags.count(False)
        clean.append([v if ok else None for v, ok in zip(column, flags, strict=True)])
    return np.array(clean, dtype=np.float64).reshape(width, rows).T, mismatched
