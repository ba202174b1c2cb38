"""CategoricalSummary: exact merges, boolean columns, type mismatches, JSON round trips."""

import json
from collections import Counter
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.stats.categorical import (
    NEW_NAMES_KEPT,
    CategoricalBins,
    CategoricalSummary,
    category_of,
)

PROPERTY = settings(max_examples=60, derandomize=True, deadline=None, database=None)

BINS = CategoricalBins(
    ("country", "is_new"), (("DE", "FR", "US"), ("true", "false")), ("string", "boolean")
)

# No 0, 1, 0.0 or 1.0 here: they hash like False and True (see the boolean-column test below).
STRING_VALUES = st.sampled_from(
    ["DE", "FR", "US", "IT", "ES", "JP", None, 2.5, 7.0, -3.0, True, False]
)
BOOLEAN_VALUES = st.sampled_from([True, False, None, "yes", "DE", 2.5, -4.0])

ROWS = st.lists(st.tuples(STRING_VALUES, BOOLEAN_VALUES), max_size=40)


def _columns(rows: list[tuple[Any, Any]]) -> list[list[Any]]:
    return [[row[0] for row in rows], [row[1] for row in rows]]


def _summary(rows: list[tuple[Any, Any]]) -> CategoricalSummary:
    summary = CategoricalSummary(BINS)
    summary.update(_columns(rows))
    return summary


def _expected(rows: list[tuple[Any, Any]]) -> dict[str, Any]:
    """What the summary must hold, counted one value at a time."""
    counts = np.zeros((2, BINS.width), dtype=np.int64)
    missing, mismatched = [0, 0], [0, 0]
    new: list[Counter[str]] = [Counter(), Counter()]
    for j, column in enumerate(_columns(rows)):
        boolean = BINS.kinds[j] == "boolean"
        for value in column:
            if value is None:
                missing[j] += 1
            elif boolean and type(value) is bool:
                counts[j, BINS.index[j]["true" if value else "false"]] += 1
            elif not boolean and type(value) is str:
                position = BINS.index[j].get(value, 0)
                counts[j, position] += 1
                if position == 0:
                    new[j][value] += 1
            else:
                mismatched[j] += 1
    return {
        "counts": counts.tolist(),
        "missing": missing,
        "mismatched": mismatched,
        "new_names": [dict(c) for c in new],
    }


def _state(summary: CategoricalSummary) -> dict[str, Any]:
    return {
        "counts": summary.counts.tolist(),
        "missing": summary.missing.tolist(),
        "mismatched": summary.mismatched.tolist(),
        "new_names": summary.new_names,
    }


@PROPERTY
@given(rows=ROWS, data=st.data())
def test_split_and_merge_equals_one_summary(
    rows: list[tuple[Any, Any]], data: st.DataObject
) -> None:
    cut = data.draw(st.integers(0, len(rows)), label="cut")
    expected = _expected(rows)
    first, second = _summary(rows[:cut]), _summary(rows[cut:])

    assert _state(_summary(rows)) == expected
    assert _state(first + second) == expected
    in_place = first.copy()
    in_place += second
    assert _state(in_place) == expected
    assert _state(first) == _expected(rows[:cut])  # ``+`` leaves its operands alone


@PROPERTY
@given(rows=ROWS, data=st.data())
def test_merge_is_associative(rows: list[tuple[Any, Any]], data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(rows)), label="i")
    k = data.draw(st.integers(i, len(rows)), label="k")
    a, b, c = _summary(rows[:i]), _summary(rows[i:k]), _summary(rows[k:])
    assert _state((a + b) + c) == _state(a + (b + c)) == _expected(rows)


@PROPERTY
@given(
    counts=st.dictionaries(
        st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=4),
        st.integers(1, 30),
        min_size=NEW_NAMES_KEPT + 1,
        max_size=3 * NEW_NAMES_KEPT,
    ),
    data=st.data(),
)
def test_new_names_stay_bounded(counts: dict[str, int], data: st.DataObject) -> None:
    values = [name for name, n in counts.items() for _ in range(n)]
    values = data.draw(st.permutations(values), label="order")
    cut = data.draw(st.integers(0, len(values)), label="cut")
    bins = CategoricalBins(("c",), (("known",),), ("string",))
    first, second = CategoricalSummary(bins), CategoricalSummary(bins)
    first.update([values[:cut]])
    second.update([values[cut:]])
    merged = first + second
    assert len(merged.new_names[0]) == NEW_NAMES_KEPT
    assert merged.counts.tolist() == [[len(values), 0]]
    # each kept name has at most its true count (approximate, never inflated)
    assert all(n <= counts[name] for name, n in merged.new_names[0].items())


def test_new_names_of_one_batch_are_the_true_top() -> None:
    bins = CategoricalBins(("c",), (("known",),), ("string",))
    summary = CategoricalSummary(bins)
    column = [f"n{i:02d}" for i in range(15) for _ in range(i + 1)]
    summary.update([column])
    assert summary.new_names[0] == {f"n{i:02d}": i + 1 for i in range(14, 4, -1)}


def test_boolean_column_counts_true_and_false() -> None:
    bins = CategoricalBins(("flag",), (("false", "true"),), ("boolean",))
    summary = CategoricalSummary(bins)
    summary.update([[True, False, True, None, True]])
    assert summary.counts.tolist() == [[0, 1, 3]]
    assert summary.missing.tolist() == [1]
    assert summary.mismatched.tolist() == [0]
    assert summary.new_names == [{}]


def test_type_mismatches() -> None:
    summary = CategoricalSummary(BINS)
    summary.update([["DE", 3.5, True, "IT"], [True, "true", "DE", 2.5]])
    assert summary.counts.tolist() == [[1, 1, 0, 0], [0, 1, 0, 0]]
    assert summary.mismatched.tolist() == [2, 3]  # a number and a flag; two strings, a number
    assert summary.missing.tolist() == [0, 0]
    assert summary.new_names == [{"IT": 1}, {}]  # "true" as a string is not new, it is wrong
    assert summary.total.tolist() == [4, 4]


@pytest.mark.parametrize("column", [[True, 1], [1, True], [False, 0.0], [0, False]])
def test_numbers_equal_to_a_flag_are_mismatched_in_a_boolean_column(column: list[Any]) -> None:
    bins = CategoricalBins(("flag",), (("true", "false"),), ("boolean",))
    summary = CategoricalSummary(bins)
    summary.update([column])
    assert summary.mismatched.tolist() == [1]
    assert summary.counts.sum() == 1


def test_category_of() -> None:
    assert category_of("DE") == "DE"
    assert category_of(True) == "true"
    assert category_of(False) == "false"
    assert category_of(1.0) is None
    assert category_of(None) is None


def test_bins_index_and_width() -> None:
    assert BINS.index[0] == {"DE": 1, "FR": 2, "US": 3}
    assert BINS.width == 4
    with pytest.raises(ValueError, match="one entry per column"):
        CategoricalBins(("a", "b"), (("x",),), ("string", "string"))


def test_merging_other_columns_is_refused() -> None:
    other = CategoricalBins(("x",), (("a",),), ("string",))
    with pytest.raises(ValueError, match="different columns"):
        CategoricalSummary(BINS) + CategoricalSummary(other)


@PROPERTY
@given(rows=ROWS)
def test_to_dict_round_trips_through_json(rows: list[tuple[Any, Any]]) -> None:
    summary = _summary(rows)
    restored_bins = CategoricalBins.from_dict(json.loads(json.dumps(BINS.to_dict())))
    assert restored_bins.names == BINS.names
    assert restored_bins.categories == BINS.categories
    assert restored_bins.kinds == BINS.kinds
    restored = CategoricalSummary.from_dict(
        restored_bins, json.loads(json.dumps(summary.to_dict()))
    )
    assert _state(restored) == _state(summary)
    assert restored.counts.dtype == np.int64
    # the restored summary keeps counting
    restored.update(_columns(rows))
    assert _state(restored) == _state(summary + summary)
