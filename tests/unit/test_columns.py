"""ColumnSummary.update_rows: missing vs mismatched values, fast path vs slow path."""

import json
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.stats.categorical import CategoricalBins
from monitor.stats.columns import ColumnLayout, ColumnSummary, to_floats
from monitor.stats.numeric import NumericBins

PROPERTY = settings(max_examples=60, derandomize=True, deadline=None, database=None)

LAYOUT = ColumnLayout(
    NumericBins(
        ("amount", "age"),
        (np.array([0.0, 10.0]), np.array([30.0])),
        np.array([-5.0, 18.0]),
        np.array([50.0, 90.0]),
    ),
    CategoricalBins(
        ("country", "is_new"), (("DE", "FR"), ("true", "false")), ("string", "boolean")
    ),
)
NUMERIC, CATEGORICAL = LAYOUT.numeric.names, LAYOUT.categorical.names


def _summary(rows: list[dict[str, Any]], layout: ColumnLayout = LAYOUT) -> ColumnSummary:
    summary = ColumnSummary(layout)
    summary.update_rows(rows)
    return summary


def _state(summary: ColumnSummary) -> dict[str, Any]:
    state: dict[str, Any] = json.loads(json.dumps(summary.to_dict()))
    return state


def test_absent_keys_count_as_missing() -> None:
    summary = _summary([{"amount": 1.0, "country": "DE"}, {}, {"age": None, "is_new": None}])
    assert summary.numeric.missing.tolist() == [2, 3]
    assert summary.numeric.count.tolist() == [1, 0]
    assert summary.numeric.mismatched.tolist() == [0, 0]
    assert summary.categorical.missing.tolist() == [2, 3]
    assert summary.categorical.mismatched.tolist() == [0, 0]
    assert summary.numeric.total.tolist() == [3, 3]
    assert summary.categorical.total.tolist() == [3, 3]


def test_strings_and_flags_in_numeric_columns_are_mismatched_not_missing() -> None:
    summary = _summary(
        [
            {"amount": "12.5", "age": True},
            {"amount": False, "age": 40},
            {"amount": 3.0, "age": None},
        ]
    )
    assert summary.numeric.mismatched.tolist() == [2, 1]
    assert summary.numeric.missing.tolist() == [0, 1]
    assert summary.numeric.count.tolist() == [1, 1]
    assert summary.numeric.counts.tolist() == [[0, 1, 0], [0, 1, 0]]
    assert summary.numeric.mean.tolist() == [3.0, 40.0]


def test_numbers_in_categorical_columns_are_mismatched() -> None:
    summary = _summary([{"country": 3.0, "is_new": 1.5}, {"country": True, "is_new": "no"}])
    assert summary.categorical.mismatched.tolist() == [2, 2]
    assert summary.categorical.missing.tolist() == [0, 0]
    assert summary.categorical.counts.sum() == 0


NUMBER = st.floats(-100.0, 100.0, allow_nan=False, allow_infinity=False)
WHOLE = st.integers(-100, 100)
NUMERIC_VALUE = st.one_of(NUMBER, WHOLE.map(float), st.none())
CATEGORY_VALUE = st.sampled_from(["DE", "FR", "IT", None])
FLAG_VALUE = st.sampled_from([True, False, None])

CLEAN_ROWS = st.lists(
    st.fixed_dictionaries(
        {"amount": NUMERIC_VALUE, "age": NUMERIC_VALUE},
        optional={"country": CATEGORY_VALUE, "is_new": FLAG_VALUE},
    ),
    max_size=30,
)


def _with_ints_and_gaps(rows: list[dict[str, Any]], draw: st.DataObject) -> list[dict[str, Any]]:
    """The same values, with whole floats as ints and some None values left out."""
    changed = []
    for row in rows:
        new = {}
        for name, value in row.items():
            if value is None and draw.draw(st.booleans(), label="drop"):
                continue
            if isinstance(value, float) and value.is_integer() and draw.draw(st.booleans()):
                value = int(value)
            new[name] = value
        changed.append(new)
    return changed


@PROPERTY
@given(rows=CLEAN_ROWS, data=st.data())
def test_fast_and_slow_paths_agree(rows: list[dict[str, Any]], data: st.DataObject) -> None:
    # all present floats: itemgetter and np.array (the fast path); ints or absent keys:
    # the per-value loop and the per-name get (the slow paths)
    other = _with_ints_and_gaps(rows, data)
    assert _state(_summary(other)) == _state(_summary(rows))


@PROPERTY
@given(rows=CLEAN_ROWS, data=st.data())
def test_batches_agree_with_one_batch(rows: list[dict[str, Any]], data: st.DataObject) -> None:
    rows = _with_ints_and_gaps(rows, data)
    cut = data.draw(st.integers(0, len(rows)), label="cut")
    summary = _summary(rows[:cut])
    summary.update_rows(rows[cut:])
    merged = _summary(rows[:cut])
    merged += _summary(rows[cut:])
    whole = _summary(rows)
    for got in (summary, merged):
        _assert_same(got, whole)


def _assert_same(got: ColumnSummary, want: ColumnSummary) -> None:
    """Equal counts; moments equal up to the rounding of a different summation order."""
    got_state, want_state = _state(got), _state(want)
    assert got_state["categorical"] == want_state["categorical"]
    for name in ("fine_counts", "count", "min", "max", "missing", "mismatched", "out_of_range"):
        assert got_state["numeric"][name] == want_state["numeric"][name]
    for name, tolerance in (("mean", 1e-9), ("m2", 1e-6), ("fine_sums", 1e-6)):
        np.testing.assert_allclose(
            got_state["numeric"][name], want_state["numeric"][name], atol=tolerance
        )


@PROPERTY
@given(
    table=st.lists(
        st.tuples(
            st.one_of(NUMBER, WHOLE, st.none(), st.booleans(), st.text(max_size=3)),
            st.one_of(NUMBER, st.none()),
        ),
        max_size=20,
    )
)
def test_to_floats_marks_non_numbers(table: list[tuple[Any, Any]]) -> None:
    values, mismatched = to_floats(list(zip(*table, strict=True)) or [(), ()], len(table))
    assert values.shape == (len(table), 2)
    wrong = sum(1 for a, _ in table if isinstance(a, bool | str))
    assert (0 if mismatched is None else int(mismatched[0])) == wrong
    assert mismatched is None or int(mismatched[1]) == 0
    for (a, b), (x, y) in zip(table, values.tolist(), strict=True):
        if a is None or isinstance(a, bool | str):
            assert np.isnan(x)
        else:
            assert x == float(a)
        assert np.isnan(y) if b is None else y == b


def test_update_values_of_a_one_column_layout() -> None:
    numeric = ColumnLayout(
        NumericBins(("prediction",), (np.array([0.5]),), np.zeros(1), np.ones(1)),
        CategoricalBins((), (), ()),
    )
    summary = ColumnSummary(numeric)
    summary.update_values([0.1, 0.9, None, "cat", {"a": 1.0}])
    assert summary.numeric.counts.tolist() == [[1, 1]]
    assert summary.numeric.missing.tolist() == [1]
    assert summary.numeric.mismatched.tolist() == [2]

    classes = ColumnLayout(
        NumericBins((), (), np.zeros(0), np.zeros(0)),
        CategoricalBins(("prediction",), (("cat", "dog"),), ("string",)),
    )
    summary = ColumnSummary(classes)
    summary.update_values(["cat", "cow", None, 0.3])
    assert summary.categorical.counts.tolist() == [[1, 1, 0]]
    assert summary.categorical.missing.tolist() == [1]
    assert summary.categorical.mismatched.tolist() == [1]


def test_empty_batch_changes_nothing() -> None:
    summary = _summary([])
    assert _state(summary) == _state(ColumnSummary(LAYOUT))


@PROPERTY
@given(rows=CLEAN_ROWS)
def test_layout_and_summary_round_trip_through_json(rows: list[dict[str, Any]]) -> None:
    layout = ColumnLayout.from_dict(json.loads(json.dumps(LAYOUT.to_dict())))
    assert layout.names == NUMERIC + CATEGORICAL
    summary = _summary(rows)
    restored = ColumnSummary.from_dict(layout, json.loads(json.dumps(summary.to_dict())))
    assert _state(restored) == _state(summary)
    copy = summary.copy()
    copy.update_rows(rows)
    assert _state(summary) == _state(_summary(rows))  # the copy is independent


def _columns(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """The rows column by column, absent keys as None."""
    return {name: [row.get(name) for row in rows] for name in NUMERIC + CATEGORICAL}


@PROPERTY
@given(rows=CLEAN_ROWS, data=st.data())
def test_columns_summarise_like_rows(rows: list[dict[str, Any]], data: st.DataObject) -> None:
    rows = _with_ints_and_gaps(rows, data)
    by_columns = ColumnSummary(LAYOUT)
    by_columns.update_columns(_columns(rows))
    _assert_same(by_columns, _summary(rows))


@PROPERTY
@given(rows=CLEAN_ROWS)
def test_numpy_and_pandas_style_columns_summarise_like_lists(rows: list[dict[str, Any]]) -> None:
    columns = _columns(rows)
    # numbers as float arrays with NaN, categories as object arrays with NaN for missing
    arrays = {name: np.array(columns[name], dtype=np.float64) for name in NUMERIC}
    for name in CATEGORICAL:
        arrays[name] = np.array([np.nan if v is None else v for v in columns[name]], dtype=object)
    by_arrays = ColumnSummary(LAYOUT)
    by_arrays.update_columns(arrays)
    _assert_same(by_arrays, _summary(rows))


def test_absent_columns_count_as_missing_and_odd_arrays_as_mismatched() -> None:
    summary = ColumnSummary(LAYOUT)
    summary.update_columns(
        {"amount": np.array([True, False, True]), "country": np.array(["DE", "IT", "DE"])}
    )
    assert summary.numeric.mismatched.tolist() == [3, 0]
    assert summary.numeric.missing.tolist() == [0, 3]
    assert summary.categorical.counts.tolist() == [[1, 2, 0], [0, 0, 0]]
    assert summary.categorical.missing.tolist() == [0, 3]
    assert summary.categorical.new_names == [{"IT": 1}, {}]


def test_columns_of_different_lengths_are_refused() -> None:
    summary = ColumnSummary(LAYOUT)
    with pytest.raises(ValueError, match="columns differ in length"):
        summary.update_columns({"amount": [1.0, 2.0], "country": ["DE"]})
    assert _state(summary) == _state(ColumnSummary(LAYOUT))
