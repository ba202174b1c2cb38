"""A model's columns (numeric and categorical) and their joint, mergeable summary.

:class:`ColumnLayout` says which columns are numeric or categorical and how each is
binned; it comes from the reference. :class:`ColumnSummary` is the hot path: it turns a
micro-batch of feature dicts (or of columns) into a few numpy arrays and updates both
summaries.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from monitor.stats.categorical import CategoricalBins, CategoricalSummary
from monitor.stats.numeric import FloatArray, IntArray, NumericBins, NumericSummary

__all__ = [
    "Column",
    "ColumnLayout",
    "ColumnSummary",
    "column_floats",
    "column_length",
    "gather_complete",
    "gather_rows",
    "python_values",
    "row_getter",
    "rows_to_floats",
    "to_floats",
]

_NUMERIC_TYPES = frozenset({float, int, type(None)})

Column = Sequence[Any] | npt.NDArray[Any]
"""One column's values: a sequence (None = missing) or an array (NaN = missing), or
anything ``np.asarray`` takes, such as a pandas Series."""


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

    A batch comes as rows (:meth:`update_rows`, one dict per event, as the stream carries
    them) or as columns (:meth:`update_columns`, name -> values, as a DataFrame holds them).
    Values under names outside the layout are left out and counted in ``outside``.

    Examples
    --------
    >>> layout = ColumnLayout(
    ...     NumericBins(("amount",), (np.array([10.0]),), np.array([0.0]), np.array([99.0])),
    ...     CategoricalBins(("country",), (("DE",),), ("string",)),
    ... )
    >>> summary = ColumnSummary(layout)
    >>> summary.update_rows([{"amount": 5.0, "country": "DE"}, {"amount": "oops"}])
    >>> summary.update_columns({"amount": np.array([20.0, np.nan]), "country": ["FR", None]})
    >>> summary.numeric.counts.tolist(), summary.numeric.mismatched.tolist()
    ([[1, 1]], [1])
    >>> summary.numeric.missing.tolist(), summary.categorical.missing.tolist()
    ([1], [2])
    >>> summary.update_rows([{"amount": 1.0, "country": "DE", "new": 1, "newer": 2}])
    >>> summary.outside
    2
    """

    def __init__(self, layout: ColumnLayout) -> None:
        self.layout = layout
        self.numeric = NumericSummary(layout.numeric)
        self.categorical = CategoricalSummary(layout.categorical)
        self.outside = 0
        self.last_numeric: FloatArray = np.empty((0, len(layout.numeric.names)))
        """The numeric values of the last batch added, rows x numeric columns (NaN =
        missing), for summaries of the same rows (not state: not copied or saved)."""
        self._numeric_getter = row_getter(layout.numeric.names)
        self._categorical_getter = row_getter(layout.categorical.names)

    def update_rows(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Add a batch of rows (feature name -> value); absent names count as missing."""
        if not rows:
            return
        # One C-level call per row gathers its values; numeric ones go straight into a
        # rows x columns array, categorical ones are transposed to be counted per column.
        complete = True
        numeric = self.layout.numeric.names
        if numeric:
            gathered, complete = gather_complete(rows, self._numeric_getter, numeric)
            floats, mismatched = rows_to_floats(gathered, len(numeric))
            self.numeric.update(floats, mismatched)
            self.last_numeric = floats
        categorical = self.layout.categorical.names
        if categorical:
            gathered, whole = gather_complete(rows, self._categorical_getter, categorical)
            complete = complete and whole
            self.categorical.update(list(zip(*gathered, strict=True)))
        if complete:  # every row has every column: the rest are outside (one pass in C)
            self.outside += sum(map(len, rows)) - len(rows) * (len(numeric) + len(categorical))
        else:
            names = frozenset(numeric + categorical)
            self.outside += sum(len(row.keys() - names) for row in rows)

    def update_columns(self, columns: Mapping[str, Column]) -> None:
        """Add a batch given column by column: name -> values, every column as long.

        Absent names count as missing. Arrays of numbers are read as they are (NaN =
        missing); other values as :meth:`update_rows` reads them (None = missing).
        """
        rows = column_length(columns)
        if not rows:
            return
        self.outside += rows * len(columns.keys() - set(self.layout.names))
        numeric = self.layout.numeric.names
        if numeric:
            # column-major, so each column's binning reads contiguous memory
            values = np.full((rows, len(numeric)), np.nan, order="F")
            mismatched = np.zeros(len(numeric), dtype=np.int64)
            for j, name in enumerate(numeric):
                if name in columns:
                    values[:, j], mismatched[j] = column_floats(columns[name])
            self.numeric.update(values, mismatched if mismatched.any() else None)
            self.last_numeric = values
        categorical = self.layout.categorical.names
        if categorical:
            missing = [None] * rows
            self.categorical.update(
                [
                    python_values(columns[name]) if name in columns else missing
                    for name in categorical
                ]
            )

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
        self.outside += other.outside
        return self

    def copy(self) -> "ColumnSummary":
        """An independent copy over the same layout."""
        result = ColumnSummary.__new__(ColumnSummary)
        result.layout = self.layout
        result.numeric = self.numeric.copy()
        result.categorical = self.categorical.copy()
        result.outside = self.outside
        result.last_numeric = self.last_numeric[:0]
        result._numeric_getter = self._numeric_getter
        result._categorical_getter = self._categorical_getter
        return result

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state (``outside`` only when there are such values: a reference's
        content, and so its id, stays as it was)."""
        state: dict[str, Any] = {
            "numeric": self.numeric.to_dict(),
            "categorical": self.categorical.to_dict(),
        }
        if self.outside:
            state["outside"] = self.outside
        return state

    @classmethod
    def from_dict(cls, layout: ColumnLayout, data: dict[str, Any]) -> "ColumnSummary":
        """Inverse of :meth:`to_dict`."""
        result = cls(layout)
        result.numeric = NumericSummary.from_dict(layout.numeric, data["numeric"])
        result.categorical = CategoricalSummary.from_dict(layout.categorical, data["categorical"])
        result.outside = data.get("outside", 0)
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
    return gather_complete(rows, getter, names)[0]


def gather_complete(
    rows: Sequence[Mapping[str, Any]], getter: Any, names: tuple[str, ...]
) -> tuple[list[tuple[Any, ...]], bool]:
    """:func:`gather_rows`, and whether every row had every column.

    >>> gather_complete([{"a": 1, "b": 2}, {"a": 3}], row_getter(("a",)), ("a",))
    ([(1,), (3,)], True)
    >>> gather_complete([{"a": 1, "b": 2}, {"b": 3}], row_getter(("a", "b")), ("a", "b"))
    ([(1, 2), (None, 3)], False)
    """
    try:
        return list(map(getter, rows)), True
    except KeyError:
        return [tuple(map(row.get, names)) for row in rows], False


def column_length(columns: Mapping[str, Column]) -> int:
    """The columns' common length; a clear error when they differ.

    >>> column_length({"a": [1.0, 2.0], "b": np.array(["x", "y"])})
    2
    >>> column_length({"a": [1.0], "b": []})
    Traceback (most recent call last):
    ...
    ValueError: columns differ in length: {'a': 1, 'b': 0}
    """
    lengths = {name: len(values) for name, values in columns.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"columns differ in length: {lengths}")
    return next(iter(lengths.values()), 0)


def python_values(values: Column) -> Sequence[Any]:
    """A column as a sequence of Python values (arrays and Series through ``tolist``)."""
    if isinstance(values, Sequence):
        return values
    listed: list[Any] = np.asarray(values).tolist()
    return listed


def column_floats(values: Column) -> tuple[FloatArray, int]:
    """A column as floats (NaN = missing), and how many of its values are not numbers.

    >>> column_floats(np.array([1, 2]))
    (array([1., 2.]), 0)
    >>> column_floats([1.5, None, "x", True])
    (array([1.5, nan, nan, nan]), 2)
    """
    if not isinstance(values, Sequence):
        array = np.asarray(values)
        if array.dtype.kind in "fiu":
            return array.astype(np.float64, copy=False), 0
        values = python_values(array)  # flags, strings, objects: judged value by value
    floats, mismatched = to_floats([values], len(values))
    return floats[:, 0], 0 if mismatched is None else int(mismatched[0])


def rows_to_floats(
    rows: Sequence[tuple[Any, ...]], width: int
) -> tuple[FloatArray, IntArray | None]:
    """Rows x columns floats from gathered rows, as :func:`to_floats` gives them."""
    if set(map(type, chain.from_iterable(rows))) <= _NUMERIC_TYPES:
        return np.array(rows, dtype=np.float64).reshape(len(rows), width), None
    return to_floats(list(zip(*rows, strict=True)), len(rows))


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
