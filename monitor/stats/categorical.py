"""Mergeable summary of categorical columns: frequencies with an "other" bucket.

Categories are fixed by the reference (its most frequent ones); everything else falls in
bucket 0, "other", and the most frequent new values are kept by name (a bounded number)
so an alert can say which category appeared. Boolean columns are categorical with the
categories ``"true"`` and ``"false"``.
"""

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Self

import numpy as np
import numpy.typing as npt

__all__ = ["CategoricalBins", "CategoricalSummary", "category_of"]

IntArray = npt.NDArray[np.int64]
CategoryKind = Literal["string", "boolean"]
NEW_NAMES_KEPT = 10
"""How many unseen category names a summary keeps (by count) for alert details."""


_MISMATCH = object()


def _flag(value: object) -> object:
    """A boolean column's value as its category, None, or the mismatch marker."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return None if _missing(value) else _MISMATCH


def _missing(value: object) -> bool:
    """None, or NaN: how DataFrames mark a missing value."""
    return value is None or (isinstance(value, float) and value != value)


def category_of(value: object) -> str | None:
    """The category a value counts as, or None for a value that is not categorical.

    >>> category_of("DE"), category_of(True), category_of(1.5)
    ('DE', 'true', None)
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return None


@dataclass(frozen=True, eq=False)
class CategoricalBins:
    """The known categories per column; bucket 0 of every column is "other".

    >>> bins = CategoricalBins(("country",), (("DE", "FR"),), ("string",))
    >>> bins.index[0]["FR"], bins.width
    (2, 3)
    """

    names: tuple[str, ...]
    categories: tuple[tuple[str, ...], ...]
    kinds: tuple[CategoryKind, ...]
    index: tuple[dict[str, int], ...] = field(init=False)

    def __post_init__(self) -> None:
        if not len(self.names) == len(self.categories) == len(self.kinds):
            raise ValueError("names, categories and kinds must have one entry per column")
        index = tuple({c: i + 1 for i, c in enumerate(cats)} for cats in self.categories)
        object.__setattr__(self, "index", index)

    @property
    def width(self) -> int:
        """Buckets of the widest column, "other" included."""
        return max((len(c) + 1 for c in self.categories), default=1)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "names": list(self.names),
            "categories": [list(c) for c in self.categories],
            "kinds": list(self.kinds),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Inverse of :meth:`to_dict`."""
        return cls(
            tuple(data["names"]),
            tuple(tuple(c) for c in data["categories"]),
            tuple(data["kinds"]),
        )


class CategoricalSummary:
    """Counts per category (bucket 0 = other), missing and mismatched values per column.

    Examples
    --------
    >>> bins = CategoricalBins(("country",), (("DE", "FR"),), ("string",))
    >>> a, b = CategoricalSummary(bins), CategoricalSummary(bins)
    >>> a.update([["DE", "DE", None, "IT", 3.0]])
    >>> b.update([["FR", "IT"]])
    >>> total = a + b
    >>> total.counts.tolist(), total.missing.tolist(), total.mismatched.tolist()
    ([[2, 2, 1]], [1], [1])
    >>> total.new_names
    [{'IT': 2}]
    """

    def __init__(self, bins: CategoricalBins) -> None:
        self.bins = bins
        self._reset()

    def _reset(self) -> None:
        columns = len(self.bins.names)
        self.counts: IntArray = np.zeros((columns, self.bins.width), dtype=np.int64)
        self.missing: IntArray = np.zeros(columns, dtype=np.int64)
        self.mismatched: IntArray = np.zeros(columns, dtype=np.int64)
        self.new_names: list[dict[str, int]] = [{} for _ in range(columns)]

    @property
    def total(self) -> IntArray:
        """Values seen per column, including missing and mismatched ones."""
        total: IntArray = self.counts.sum(axis=1) + self.missing + self.mismatched
        return total

    def update(self, columns: Sequence[Sequence[Any]]) -> None:
        """Add a batch given column by column (``None`` or NaN = missing)."""
        for j, column in enumerate(columns):
            # Counter holds True, 1 and 1.0 as one key: flags are named before counting.
            boolean = self.bins.kinds[j] == "boolean"
            counted = Counter(map(_flag, column)) if boolean else Counter(column)
            self._add(j, counted.items())

    def add_counted(self, j: int, counted: Iterable[tuple[Any, int]]) -> None:
        """Add column ``j``'s values already counted, as ``(value, count)`` pairs (values
        counted by type and value, so that True, 1 and 1.0 are apart)."""
        boolean = self.bins.kinds[j] == "boolean"
        self._add(j, ((_flag(v), n) for v, n in counted) if boolean else counted)

    def _add(self, j: int, counted: Iterable[tuple[Any, int]]) -> None:
        index = self.bins.index[j]
        counts = self.counts[j]
        new = self.new_names[j]
        for value, n in counted:
            if _missing(value):
                self.missing[j] += n
                continue
            if value is _MISMATCH or not isinstance(value, str):
                self.mismatched[j] += n
                continue
            position = index.get(value, 0)
            counts[position] += n
            if position == 0:
                new[value] = new.get(value, 0) + n
        if len(new) > NEW_NAMES_KEPT:
            self.new_names[j] = _top(new)

    def __iadd__(self, other: "CategoricalSummary") -> Self:
        if other.bins is not self.bins and other.bins.names != self.bins.names:
            raise ValueError("cannot merge summaries over different columns")
        self.counts = self.counts + other.counts
        self.missing = self.missing + other.missing
        self.mismatched = self.mismatched + other.mismatched
        pairs = zip(self.new_names, other.new_names, strict=True)
        self.new_names = [_top(Counter(a) + Counter(b)) for a, b in pairs]
        return self

    def __add__(self, other: "CategoricalSummary") -> "CategoricalSummary":
        result = self.copy()
        result += other
        return result

    def copy(self) -> "CategoricalSummary":
        """An independent copy over the same bins."""
        result = CategoricalSummary(self.bins)
        result.counts = self.counts.copy()
        result.missing = self.missing.copy()
        result.mismatched = self.mismatched.copy()
        result.new_names = [dict(d) for d in self.new_names]
        return result

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state (the bins are stored once, with the reference)."""
        return {
            "counts": self.counts.tolist(),
            "missing": self.missing.tolist(),
            "mismatched": self.mismatched.tolist(),
            "new_names": self.new_names,
        }

    @classmethod
    def from_dict(cls, bins: CategoricalBins, data: dict[str, Any]) -> "CategoricalSummary":
        """Inverse of :meth:`to_dict`."""
        result = cls(bins)
        result.counts = np.array(data["counts"], dtype=np.int64).reshape(result.counts.shape)
        result.missing = np.array(data["missing"], dtype=np.int64)
        result.mismatched = np.array(data["mismatched"], dtype=np.int64)
        result.new_names = [dict(d) for d in data["new_names"]]
        return result


def _top(counts: dict[str, int]) -> dict[str, int]:
    """The most frequent names (ties broken by name, so merges are deterministic)."""
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return dict(ranked[:NEW_NAMES_KEPT])
