"""Drift statistics on binned counts against scipy and hand-written references."""

import math

import numpy as np
import pytest
from scipy import stats
from scipy.spatial import distance

from monitor.drift import distances

SEEDS = [0, 1, 2, 3, 4]
WIDTHS = [2, 5, 20]


def _counts(seed: int, width: int, columns: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """Reference and window counts, with empty bins and zero-padded (narrower) columns."""
    rng = np.random.default_rng(seed)
    reference = rng.integers(0, 500, size=(columns, width)).astype(np.float64)
    window = rng.integers(0, 100, size=(columns, width)).astype(np.float64)
    if width > 2:
        reference[rng.random((columns, width)) < 0.2] = 0  # empty in the reference only
        window[rng.random((columns, width)) < 0.2] = 0  # empty in the window only
        reference[0, 1] = window[0, 1] = 0  # empty in both
        used = rng.integers(2, width, size=columns)  # narrower columns, zero-padded
        for j in range(1, columns):
            reference[j, used[j] :] = window[j, used[j] :] = 0
    for counts in (reference, window):  # every column has something to compare
        counts[counts.sum(axis=1) == 0, 0] = 1
    return reference, window


def _positions(seed: int, reference: np.ndarray) -> np.ndarray:
    """Sorted bin positions per column; padding bins repeat the last used position."""
    rng = np.random.default_rng(seed + 100)
    positions = np.cumsum(rng.uniform(0.1, 3.0, size=reference.shape), axis=1)
    for j in range(reference.shape[0]):
        used = np.flatnonzero(reference[j]).max() + 1
        positions[j, used:] = positions[j, used - 1]
    return positions


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("seed", SEEDS)
def test_jensen_shannon_matches_scipy(seed: int, width: int) -> None:
    reference, window = _counts(seed, width)
    ours = distances.jensen_shannon(reference, window)
    for j in range(reference.shape[0]):
        assert ours[j] == pytest.approx(distance.jensenshannon(reference[j], window[j]), abs=1e-9)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("seed", SEEDS)
def test_wasserstein_matches_scipy(seed: int, width: int) -> None:
    reference, window = _counts(seed, width)
    positions = _positions(seed, reference)
    scale = np.asarray(np.random.default_rng(seed).uniform(0.5, 2.0, size=reference.shape[0]))
    ours = distances.wasserstein(reference, window, positions, scale)
    for j in range(reference.shape[0]):
        theirs = (
            stats.wasserstein_distance(positions[j], positions[j], reference[j], window[j])
            / scale[j]
        )
        assert ours[j] == pytest.approx(theirs, rel=1e-9, abs=1e-12)


def test_wasserstein_with_zero_scale_is_zero() -> None:
    reference, window = np.array([[10.0, 0.0]]), np.array([[0.0, 10.0]])
    positions = np.array([[0.0, 1.0]])
    assert distances.wasserstein(reference, window, positions, np.array([0.0])).tolist() == [0.0]
    assert distances.wasserstein(reference, window, positions, np.array([2.0])).tolist() == [0.5]


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("seed", SEEDS)
def test_chi_square_matches_scipy(seed: int, width: int) -> None:
    reference, window = _counts(seed, width)
    statistic, p_value, critical = distances.chi_square(reference, window, 0.01)
    for j in range(reference.shape[0]):
        table = np.stack([reference[j], window[j]])
        table = table[:, table.sum(axis=0) > 0]
        if table.shape[1] < 2:
            assert statistic[j] == 0.0
            continue
        theirs = stats.chi2_contingency(table, correction=False)
        assert statistic[j] == pytest.approx(theirs.statistic, rel=1e-9, abs=1e-12)
        assert p_value[j] == pytest.approx(theirs.pvalue, rel=1e-7, abs=1e-300)
        assert critical[j] == pytest.approx(stats.chi2.isf(0.01, theirs.dof))
        assert (p_value[j] < 0.01) == (statistic[j] > critical[j])


def _ks_by_hand(reference: np.ndarray, window: np.ndarray) -> float:
    gap, cdf_ref, cdf_win = 0.0, 0.0, 0.0
    for r, w in zip(reference, window, strict=True):
        cdf_ref += r / reference.sum()
        cdf_win += w / window.sum()
        gap = max(gap, abs(cdf_ref - cdf_win))
    return gap


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("seed", SEEDS)
def test_ks_statistic_is_the_largest_cdf_gap(seed: int, width: int) -> None:
    reference, window = _counts(seed, width)
    statistic, p_value, critical = distances.ks(reference, window, 0.05)
    for j in range(reference.shape[0]):
        assert statistic[j] == pytest.approx(_ks_by_hand(reference[j], window[j]), abs=1e-12)
        n, m = reference[j].sum(), window[j].sum()
        size = round(n * m / (n + m))  # what ks_2samp's "asymp" p-value uses
        assert p_value[j] == pytest.approx(stats.kstwo.sf(statistic[j], size), rel=1e-9)
        assert critical[j] == pytest.approx(stats.kstwo.isf(0.05, size), rel=1e-9)
        assert (p_value[j] < 0.05) == (statistic[j] > critical[j])


def test_ks_p_value_falls_as_the_distributions_part() -> None:
    reference = np.tile([[250.0, 250.0, 250.0, 250.0]], (6, 1))
    window = np.array(
        [
            [100, 100, 100, 100],
            [110, 100, 100, 90],
            [130, 100, 90, 80],
            [160, 100, 80, 60],
            [200, 100, 60, 40],
            [300, 60, 30, 10],
        ],
        dtype=np.float64,
    )
    statistic, p_value, _ = distances.ks(reference, window, 0.05)
    assert statistic[0] == 0.0
    assert p_value[0] == 1.0
    assert (np.diff(statistic) > 0).all()
    assert (np.diff(p_value) < 0).all()
    assert p_value[-1] < 1e-10


def test_psi_on_a_worked_example() -> None:
    reference = np.array([[50.0, 30.0, 20.0, 0.0]])
    window = np.array([[20.0, 30.0, 40.0, 10.0]])
    p = [0.5, 0.3, 0.2, 1e-4]  # an empty bin counts as a share of 1e-4
    q = [0.2, 0.3, 0.4, 0.1]
    expected = sum((b - a) * math.log(b / a) for a, b in zip(p, q, strict=True))
    assert distances.psi(reference, window).tolist() == pytest.approx([expected], rel=1e-12)
    assert expected == pytest.approx(0.2749 + 0.1386 + 0.6901, abs=1e-4)


def test_psi_of_the_module_docstring() -> None:
    assert distances.psi(np.array([[50, 30, 20]]), np.array([[20, 30, 50]]))[0] == pytest.approx(
        0.6 * math.log(2.5)
    )


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("seed", SEEDS)
def test_psi_matches_the_formula_column_by_column(seed: int, width: int) -> None:
    reference, window = _counts(seed, width)
    ours = distances.psi(reference, window)
    for j in range(reference.shape[0]):
        total = 0.0
        for r, w in zip(reference[j], window[j], strict=True):
            a = max(r / reference[j].sum(), distances.PSI_FLOOR)
            b = max(w / window[j].sum(), distances.PSI_FLOOR)
            total += (b - a) * math.log(b / a)
        assert ours[j] == pytest.approx(total, rel=1e-12)


def test_identical_distributions_are_at_distance_zero() -> None:
    reference = np.array([[10.0, 20.0, 0.0, 70.0], [5.0, 5.0, 0.0, 0.0]])
    window = reference * 3
    positions = np.array([[0.0, 1.0, 2.0, 3.0], [0.0, 1.0, 1.0, 1.0]])
    assert distances.psi(reference, window).tolist() == [0.0, 0.0]
    assert distances.jensen_shannon(reference, window).tolist() == [0.0, 0.0]
    assert distances.wasserstein(reference, window, positions, np.ones(2)).tolist() == [0.0, 0.0]
    statistic, p_value, _ = distances.chi_square(reference, window, 0.05)
    assert statistic.tolist() == pytest.approx([0.0, 0.0], abs=1e-12)
    assert p_value.tolist() == pytest.approx([1.0, 1.0])
    statistic, p_value, _ = distances.ks(reference, window, 0.05)
    assert statistic.tolist() == pytest.approx([0.0, 0.0], abs=1e-12)
    assert p_value.tolist() == pytest.approx([1.0, 1.0])


def test_columns_are_independent() -> None:
    reference, window = _counts(7, 5)
    positions = _positions(7, reference)
    scale = np.ones(reference.shape[0])
    together = [
        distances.psi(reference, window),
        distances.jensen_shannon(reference, window),
        distances.wasserstein(reference, window, positions, scale),
        *distances.chi_square(reference, window, 0.05),
        *distances.ks(reference, window, 0.05),
    ]
    for j in range(reference.shape[0]):
        r, w = reference[j : j + 1], window[j : j + 1]
        alone = [
            distances.psi(r, w),
            distances.jensen_shannon(r, w),
            distances.wasserstein(r, w, positions[j : j + 1], scale[j : j + 1]),
            *distances.chi_square(r, w, 0.05),
            *distances.ks(r, w, 0.05),
        ]
        for all_columns, one in zip(together, alone, strict=True):
            assert all_columns[j] == pytest.approx(one[0], rel=1e-12)


def test_distances_grow_with_the_shift() -> None:
    reference = np.array([[100.0, 200.0, 400.0, 200.0, 100.0]] * 3)
    window = np.array(
        [[100.0, 200.0, 400.0, 200.0, 100.0], [50, 150, 400, 250, 150], [0, 50, 300, 350, 300]]
    )
    positions = np.tile(np.arange(5.0), (3, 1))
    for values in (
        distances.psi(reference, window),
        distances.jensen_shannon(reference, window),
        distances.wasserstein(reference, window, positions, np.ones(3)),
    ):
        assert values[0] == pytest.approx(0.0, abs=1e-12)
        assert 0 < values[1] < values[2]


def test_ks_takes_one_alpha_per_column() -> None:
    reference, window = _counts(0, 5)
    alphas = np.linspace(0.001, 0.1, reference.shape[0])
    _, _, critical = distances.ks(reference, window, alphas)
    for j in range(reference.shape[0]):
        n, m = reference[j].sum(), window[j].sum()
        size = round(n * m / (n + m))
        assert critical[j] == pytest.approx(stats.kstwo.isf(alphas[j], size), rel=1e-9)
