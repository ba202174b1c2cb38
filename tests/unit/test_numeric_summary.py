"""NumericSummary and NumericBins: exact merges, JSON round trips, binning."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from monitor.stats.numeric import NumericBins, NumericSummary

PROPERTY = settings(max_examples=60, derandomize=True, deadline=None, database=None)

EXACT = ("counts", "count", "missing", "mismatched", "out_of_range", "min", "max")

NAMES = ["a", "b", "c"]
BINS = NumericBins.from_quantiles(
    NAMES, np.random.default_rng(0).normal(scale=100.0, size=(500, 3)), bins=8
)


def _matrices(columns: int = 3, max_rows: int = 30) -> st.SearchStrategy[np.ndarray]:
    element = st.one_of(
        st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False), st.just(np.nan)
    )
    return hnp.arrays(
        np.float64, st.tuples(st.integers(0, max_rows), st.just(columns)), elements=element
    )


def _summary(values: np.ndarray, bins: NumericBins = BINS) -> NumericSummary:
    summary = NumericSummary(bins)
    summary.update(values)
    return summary


def assert_same(actual: NumericSummary, expected: NumericSummary) -> None:
    """Exact on counts and range, tight tolerance on the moments."""
    for name in EXACT:
        got, want = getattr(actual, name), getattr(expected, name)
        assert got.dtype == want.dtype, name
        assert np.array_equal(got, want), (name, got, want)
    np.testing.assert_allclose(actual.mean, expected.mean, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(actual.m2, expected.m2, rtol=1e-9, atol=1e-3)


@PROPERTY
@given(values=_matrices(), data=st.data())
def test_split_and_merge_equals_one_summary(values: np.ndarray, data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, values.shape[0]), label="cut")
    whole = _summary(values)
    first, second = _summary(values[:cut]), _summary(values[cut:])

    assert_same(first + second, whole)
    in_place = first.copy()
    in_place += second
    assert_same(in_place, whole)
    # ``+`` leaves its operands alone
    assert_same(first, _summary(values[:cut]))
    assert_same(second, _summary(values[cut:]))


@PROPERTY
@given(values=_matrices())
def test_summary_matches_numpy(values: np.ndarray) -> None:
    summary = _summary(values)
    present = ~np.isnan(values)
    assert summary.count.tolist() == present.sum(axis=0).tolist()
    assert summary.missing.tolist() == (~present).sum(axis=0).tolist()
    assert summary.counts.sum(axis=1).tolist() == summary.count.tolist()
    for j in range(values.shape[1]):
        column = values[present[:, j], j]
        if column.size == 0:
            assert summary.min[j] == np.inf
            assert summary.max[j] == -np.inf
            continue
        assert summary.min[j] == column.min()
        assert summary.max[j] == column.max()
        assert summary.mean[j] == pytest.approx(column.mean(), rel=1e-9, abs=1e-6)
        assert summary.variance()[j] == pytest.approx(column.var(), rel=1e-9, abs=1e-6)
        expected_bins = np.bincount(
            np.searchsorted(BINS.edges[j], column, side="right"), minlength=BINS.width
        )
        assert summary.counts[j].tolist() == expected_bins.tolist()


@PROPERTY
@given(values=_matrices(max_rows=40), data=st.data())
def test_batch_by_batch_equals_one_batch(values: np.ndarray, data: st.DataObject) -> None:
    cuts = sorted(data.draw(st.lists(st.integers(0, values.shape[0]), max_size=5), label="cuts"))
    summary = NumericSummary(BINS)
    for start, stop in zip([0, *cuts], [*cuts, values.shape[0]], strict=True):
        summary.update(values[start:stop])
    assert_same(summary, _summary(values))


@PROPERTY
@given(values=_matrices(), data=st.data())
def test_merge_is_associative(values: np.ndarray, data: st.DataObject) -> None:
    n = values.shape[0]
    i = data.draw(st.integers(0, n), label="i")
    k = data.draw(st.integers(i, n), label="k")
    a, b, c = _summary(values[:i]), _summary(values[i:k]), _summary(values[k:])
    assert_same((a + b) + c, a + (b + c))
    assert_same((a + b) + c, _summary(values))


def test_variance_of_the_docstring_example() -> None:
    bins = NumericBins(("x",), (np.array([0.0]),), np.array([0.0]), np.array([1.0]))
    summary = _summary(np.array([[1.0], [np.nan], [3.0], [5.0]]), bins)
    assert summary.mean.tolist() == [3.0]
    assert summary.variance(ddof=1).tolist() == [4.0]
    assert summary.variance(ddof=0).tolist() == pytest.approx([8.0 / 3.0])
    assert np.isnan(NumericSummary(bins).variance(ddof=1)).all()


def test_mismatched_values_are_not_missing() -> None:
    bins = NumericBins(("x", "y"), (np.array([0.0]),) * 2, np.zeros(2), np.ones(2))
    summary = NumericSummary(bins)
    summary.update(np.array([[np.nan, 1.0], [np.nan, np.nan]]), np.array([1, 0]))
    assert summary.mismatched.tolist() == [1, 0]
    assert summary.missing.tolist() == [1, 1]
    assert summary.total.tolist() == [2, 2]


def test_merging_other_columns_is_refused() -> None:
    other = NumericBins(("z",), (np.array([0.0]),), np.zeros(1), np.ones(1))
    mine = NumericBins(("x",), (np.array([0.0]),), np.zeros(1), np.ones(1))
    summary = NumericSummary(mine)
    with pytest.raises(ValueError, match="different columns"):
        summary += NumericSummary(other)


@PROPERTY
@given(values=_matrices())
def test_to_dict_round_trips_through_json(values: np.ndarray) -> None:
    # a column that is always missing keeps min = inf and max = -inf
    values = np.concatenate([values, np.full((values.shape[0], 1), np.nan)], axis=1)
    bins = NumericBins.from_quantiles(
        ["a", "b", "c", "empty"],
        np.concatenate([np.arange(40.0).reshape(10, 4)[:, :3], np.full((10, 1), np.nan)], 1),
        bins=4,
    )
    summary = _summary(values, bins)
    text = json.dumps(summary.to_dict(), allow_nan=False)
    restored = NumericSummary.from_dict(bins, json.loads(text))
    assert_same(restored, summary)
    assert restored.mean.tolist() == summary.mean.tolist()
    assert restored.m2.tolist() == summary.m2.tolist()
    assert restored.counts.shape == summary.counts.shape
    assert restored.min[3] == np.inf
    assert restored.max[3] == -np.inf


def test_bins_round_trip_through_json_with_an_empty_column() -> None:
    values = np.array([[1.0, np.nan], [2.0, np.nan], [3.0, np.nan], [4.0, np.nan]])
    bins = NumericBins.from_quantiles(["x", "never"], values, bins=4)
    assert np.isnan(bins.lo[1])
    assert np.isnan(bins.hi[1])
    restored = NumericBins.from_dict(json.loads(json.dumps(bins.to_dict(), allow_nan=False)))
    assert restored.names == bins.names
    assert [e.tolist() for e in restored.edges] == [e.tolist() for e in bins.edges]
    np.testing.assert_array_equal(restored.lo, bins.lo)  # NaN == NaN here
    np.testing.assert_array_equal(restored.hi, bins.hi)


def test_round_trip_of_a_layout_without_numeric_columns_keeps_shapes() -> None:
    bins = NumericBins.from_quantiles([], np.empty((0, 0)), bins=2)
    summary = NumericSummary(bins)
    restored = NumericSummary.from_dict(bins, json.loads(json.dumps(summary.to_dict())))
    assert restored.counts.shape == summary.counts.shape


@PROPERTY
@given(
    points=st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=1, max_size=5, unique=True),
    data=st.data(),
)
def test_from_quantiles_gives_each_value_of_discrete_data_its_own_bin(
    points: list[float], data: st.DataObject
) -> None:
    # every value holds at least 2 / bins of the column, so a quantile lands inside it
    base = data.draw(st.integers(10, 20), label="base")
    repeats = [data.draw(st.integers(base, 2 * base), label="repeats") for _ in points]
    column = np.repeat(np.array(points), repeats)
    np.random.default_rng(0).shuffle(column)
    bins = NumericBins.from_quantiles(["x"], column[:, None], bins=20)

    edges = bins.edges[0]
    assert (np.diff(edges) > 0).all()
    positions = np.searchsorted(edges, sorted(points), side="right")
    assert len(set(positions.tolist())) == len(points)
    assert bins.width <= 2 * len(points) + 1  # repeated quantiles collapse
    summary = _summary(column[:, None], bins)
    assert np.count_nonzero(summary.counts[0]) == len(points)
    assert summary.out_of_range.tolist() == [0]
    assert bins.lo[0] == min(points)
    assert bins.hi[0] == max(points)


def test_from_quantiles_doctest_edges_and_validation() -> None:
    bins = NumericBins.from_quantiles(["x"], np.arange(100.0)[:, None], bins=4)
    assert bins.edges[0].tolist() == [24.75, 49.5, 74.25]
    with pytest.raises(ValueError, match="at least 2"):
        NumericBins.from_quantiles(["x"], np.arange(10.0)[:, None], bins=1)


def test_values_on_an_edge_go_to_the_upper_bin() -> None:
    bins = NumericBins(("x",), (np.array([1.0, 2.0]),), np.array([0.0]), np.array([3.0]))
    summary = _summary(np.array([[0.5], [1.0], [1.5], [2.0], [2.5]]), bins)
    assert summary.counts.tolist() == [[1, 2, 2]]


def test_out_of_range_counts_values_outside_the_reference_range() -> None:
    bins = NumericBins(
        ("x", "y"), (np.array([5.0]), np.array([0.0])), np.array([0.0, -1.0]), np.array([10.0, 1.0])
    )
    values = np.array(
        [[-0.1, 0.0], [0.0, 1.0], [5.0, 1.5], [10.0, -1.0], [10.1, np.nan], [np.nan, -7.0]]
    )
    summary = _summary(values, bins)
    assert summary.out_of_range.tolist() == [2, 2]
    first, second = _summary(values[:3], bins), _summary(values[3:], bins)
    assert (first + second).out_of_range.tolist() == [2, 2]


def test_anchors_sit_on_the_bins_and_padding_repeats_the_last() -> None:
    bins = NumericBins(
        ("wide", "narrow"),
        (np.array([1.0, 2.0, 3.0]), np.array([10.0])),
        np.array([0.0, 5.0]),
        np.array([4.0, 20.0]),
    )
    assert bins.width == bins.fine_width == 4
    assert bins.anchors().tolist() == [[1.0, 1.0, 2.0, 3.0], [10.0, 10.0, 10.0, 10.0]]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fine_bins_nest_the_coarse_ones_and_hold_each_bins_count_and_sum(seed: int) -> None:
    rng = np.random.default_rng(seed)
    reference = np.column_stack(
        [rng.normal(size=20_000), rng.pareto(1.5, 20_000), rng.poisson(3, 20_000)]
    )
    reference[::9, 0] = np.nan
    bins = NumericBins.from_quantiles(["n", "p", "c"], reference, bins=20, resolution=200)
    values = np.column_stack([rng.normal(size=3000), rng.pareto(1.2, 3000), rng.poisson(4, 3000)])
    values[::4, 1] = np.nan
    summary = _summary(values, bins)
    for j in range(3):
        column = values[:, j][~np.isnan(values[:, j])]
        assert np.isin(bins.edges[j], bins.fine[j]).all()
        assert bins.fine[j].size > (180 if j < 2 else 0)
        coarse = np.searchsorted(bins.edges[j], column, side="right")
        fine = np.searchsorted(bins.fine[j], column, side="right")
        width = bins.fine[j].size + 1
        assert summary.counts[j].tolist() == np.bincount(coarse, minlength=bins.width).tolist()
        assert (
            summary.fine_counts[j, :width].tolist() == np.bincount(fine, minlength=width).tolist()
        )
        sums = np.bincount(fine, column, minlength=width)
        np.testing.assert_allclose(summary.fine_sums[j, :width], sums, rtol=1e-12, atol=1e-9)
        means = summary.means()[j, :width]
        assert np.all(np.diff(means) >= 0)  # positions stay sorted, empty bins included
    # the top tail is cut down to single values of the reference
    top = np.sort(reference[:, 1])
    assert top[-3] <= bins.fine[1][-1] < top[-1]
    # integers with ties: one fine bin per distinct value, but the rarest top ones
    distinct, seen = np.unique(reference[:, 2], return_counts=True)
    frequent = distinct[1:][np.cumsum(seen[::-1])[::-1][1:] >= 3]
    assert set(frequent.tolist()) <= set(bins.fine[2].tolist())


def test_binary_search_bins_like_edge_by_edge_comparison(monkeypatch: pytest.MonkeyPatch) -> None:
    import monitor.stats.numeric as numeric

    rng = np.random.default_rng(0)
    reference = rng.normal(size=(5000, 3))
    reference[::7, 1] = np.nan
    bins = NumericBins.from_quantiles(["a", "b", "c"], reference, 20)
    values = rng.normal(size=(10_000, 3)) * 1.5
    values[::5, 0] = np.nan
    values[1, 2] = bins.padded_edges[2][3]  # on an edge: counts in the bin above it
    compared = NumericSummary(bins)
    compared.update(values)
    monkeypatch.setattr(numeric, "_COMPARE_UP_TO_EDGES", 0)
    searched = NumericSummary(bins)
    searched.update(values)
    assert searched.counts.tolist() == compared.counts.tolist()
    assert searched.counts.sum() == 28_000
    assert int(compared.counts[2, 4]) == int(
        np.count_nonzero(
            (values[:, 2] >= bins.padded_edges[2][3]) & (values[:, 2] < bins.padded_edges[2][4])
        )
    )


def test_coarse_counts_are_one_array_until_the_summary_changes() -> None:
    """The reference's counts key the chance levels' cache: they must keep their identity."""
    summary = _summary(np.random.default_rng(0).normal(size=(50, 3)))
    counts = summary.counts
    assert summary.counts is counts
    summary.update(np.zeros((1, 3)))
    assert summary.counts is not counts
    assert int(summary.counts.sum()) == int(counts.sum()) + 3


def test_a_reference_of_the_format_before_fine_bins_is_refused_with_how_to_rebuild() -> None:
    from monitor.reference.profile import ReferenceSet

    with pytest.raises(ValueError, match=r"driftline reference build.*rebuilt"):
        ReferenceSet.from_dict({"format": "driftline.reference/1", "profiles": []})


def test_bins_saved_before_fine_bins_are_refused_with_how_to_rebuild() -> None:
    """Such bins come in a model's checkpoint with a profile built from its first events."""
    saved = BINS.to_dict()
    del saved["fine"]
    with pytest.raises(ValueError, match="driftline reference build"):
        NumericBins.from_dict(saved)


def _varied_batch(rng: np.random.Generator, rows: int, bins: NumericBins) -> np.ndarray:
    """Normal, heavy-tailed, integer (ties on edges), values exactly on edges, and a
    column without edges; NaN sprinkled, one column all missing in some batches."""
    on_edges = rng.choice(bins.fine[3], size=rows)
    values = np.column_stack(
        [
            rng.normal(size=rows) * 2.0,
            rng.pareto(1.2, rows) * rng.choice([-1.0, 1.0], rows),
            rng.poisson(4, rows).astype(float),
            np.where(rng.random(rows) < 0.5, on_edges, -0.0),
            rng.normal(size=rows),
        ]
    )
    values[rng.random(values.shape) < 0.1] = np.nan
    if rng.random() < 0.3:
        values[:, rng.integers(5)] = np.nan
    return values


@pytest.mark.parametrize("rows", [1, 7, 100, 2000])
def test_binning_by_cells_equals_bincount_over_each_values_searched_bin(rows: int) -> None:
    import monitor.stats.numeric as numeric

    rng = np.random.default_rng(rows)
    reference = np.column_stack(
        [
            rng.normal(size=5000),
            rng.standard_cauchy(5000),  # a range so wide its edges crowd: searched
            rng.poisson(3, 5000).astype(float),
            np.round(rng.normal(size=5000), 1),
            np.full(5000, np.nan),  # no edges: every value in the first bin
        ]
    )
    bins = NumericBins.from_quantiles(list("abcde"), reference, bins=20, resolution=200)
    cuts = bins.padded_edges
    assert cuts.shape[1] > numeric._COMPARE_UP_TO_EDGES
    assert bins.cells.searched == (1,)
    assert bins.cells.passes >= 1
    summary, expected_counts, expected_sums = NumericSummary(bins), 0, 0.0
    for batch in range(6):
        values = _varied_batch(rng, rows, bins)
        if batch == 5:  # infinite values: counted in the outermost bins
            values[0, 0], values[-1, 1] = np.inf, -np.inf
        present = ~np.isnan(values)
        complete = bool(present.all())
        shape = summary.fine_counts.shape
        searched = numeric._searched_index(values, cuts)
        counts, sums = numeric._fine_bins(values, searched, present, complete, shape)
        if batch < 5:
            index = bins.cells.index(values, None if complete else present)
            by_cells = numeric._fine_bins(values, index, present, complete, shape)
            assert by_cells[0].tolist() == counts.tolist()
            np.testing.assert_array_equal(by_cells[1], sums)  # same values, same order
        with np.errstate(invalid="ignore"):  # inf - inf in the moments
            summary.update(values)
        expected_counts += counts
        expected_sums += sums
        assert summary.fine_counts.tolist() == expected_counts.tolist()
        np.testing.assert_array_equal(summary.fine_sums, expected_sums)
    assert summary.fine_counts[4, 1:].sum() == 0
    assert summary.fine_counts[4, 0] > 0


def test_a_value_on_an_edge_shares_the_edges_cell_at_any_scale() -> None:
    """Values on each edge and one ulp either side of it land in searchsorted's bin, for
    a column with a range of 1e-6 (cells of 1e-9) and a skewed one."""
    rng = np.random.default_rng(5)
    reference = np.column_stack([rng.normal(size=4000) * 1e-7 + 3.0, rng.lognormal(size=4000)])
    bins = NumericBins.from_quantiles(["a", "b"], reference, bins=20, resolution=200)
    cuts = bins.padded_edges
    for j in range(2):
        edges = bins.fine[j]
        values = np.concatenate((edges, np.nextafter(edges, -np.inf), np.nextafter(edges, np.inf)))
        column = np.column_stack([values, values])
        index = bins.cells.index(column, None)[:, j] - j * (cuts.shape[1] + 1)
        assert index.tolist() == np.searchsorted(edges, values, side="right").tolist()
        assert not np.array_equal(index, np.searchsorted(edges, values, side="left"))
