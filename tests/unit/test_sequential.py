"""The sequential drift tests: normal scores of bins, their null, the CUSUM recursion."""

import numpy as np
import pytest
from scipy import stats

from monitor.drift.sequential import RETURN_ALLOWANCE, BinScores, LocationScaleCusum
from monitor.settings import DriftSettings

SHAPES = {
    "normal": lambda rng, n: rng.normal(size=n),
    "lognormal": lambda rng, n: rng.lognormal(size=n),
    "pareto": lambda rng, n: rng.pareto(2.5, size=n),
    "poisson": lambda rng, n: rng.poisson(3.0, size=n).astype(float),
    "bimodal": lambda rng, n: np.where(
        rng.random(n) < 0.3, rng.normal(-3, 1, n), rng.normal(2, 1, n)
    ),
    "zero-inflated": lambda rng, n: np.where(rng.random(n) < 0.6, 0.0, rng.exponential(5, n)),
}


def _binned(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    return np.bincount(np.searchsorted(edges, values, side="right"), minlength=edges.size + 1)


def _sample(shape: str, seed: int, n: int = 20_000) -> np.ndarray:
    return np.asarray(SHAPES[shape](np.random.default_rng(seed), n))


def _reference(shape: str, seed: int, n: int = 20_000) -> tuple[np.ndarray, np.ndarray]:
    values = _sample(shape, seed, n)
    edges = np.unique(np.quantile(values, np.linspace(0, 1, 21)[1:-1]))
    return edges, _binned(values, edges)


@pytest.mark.parametrize("shape", list(SHAPES))
def test_scores_are_the_normal_scores_of_each_bins_quantiles(shape: str) -> None:
    """E[Z | Z in (Φ⁻¹(a), Φ⁻¹(b))] and E[Z² | ...] against scipy's truncated normal."""
    _, counts = _reference(shape, 1)
    scores = BinScores.from_counts(counts[None, :])
    shares = counts / counts.sum()
    upper = np.cumsum(shares)
    floor = 0.5 / counts.sum()
    for b in np.flatnonzero(counts):
        low = stats.norm.ppf(max(upper[b] - shares[b], floor))
        high = stats.norm.ppf(min(upper[b], 1 - floor))
        truncated = stats.truncnorm(low, high)
        location_mean = sum(
            shares[c]
            * stats.truncnorm(
                stats.norm.ppf(max(upper[c] - shares[c], floor)),
                stats.norm.ppf(min(upper[c], 1 - floor)),
            ).mean()
            for c in np.flatnonzero(counts)
        )
        assert scores.location[0, b] == pytest.approx(truncated.mean() - location_mean, abs=1e-6)
        assert scores.scale[0, b] == pytest.approx(truncated.moment(2), abs=1e-6)


@pytest.mark.parametrize("shape", list(SHAPES))
def test_pane_z_scores_are_standard_under_no_drift(shape: str) -> None:
    """Panes of 250 drawn from the reference itself: z ~ N(0, 1) for every shape, ties
    and heavy tails included; drawn from the distribution the reference was drawn from,
    the reference's own sampling error shifts them a little (about sqrt(250 / 20,000))."""
    rng = np.random.default_rng(7)
    values = _sample(shape, 2)
    edges, counts = _reference(shape, 2)
    scores = BinScores.from_counts(counts[None, :])
    resampled = np.array([_binned(rng.choice(values, 250), edges) for _ in range(3000)])
    fresh = np.array([_binned(SHAPES[shape](rng, 250), edges) for _ in range(3000)])
    for z in scores.z(resampled):
        assert abs(z.mean()) < 0.06
        assert 0.94 < z.std() < 1.06
        assert np.mean(np.abs(z) > 3.0) < 0.006  # a normal's is 0.0027
    for z in scores.z(fresh):
        assert abs(z.mean()) < 0.4
        assert 0.9 < z.std() < 1.1


def test_pane_z_scores_see_location_and_scale() -> None:
    rng = np.random.default_rng(3)
    edges, counts = _reference("normal", 3)
    scores = BinScores.from_counts(counts[None, :])
    shifted = np.array([_binned(rng.normal(0.25, 1.0, 250), edges) for _ in range(500)])
    wider = np.array([_binned(rng.normal(0.0, np.sqrt(1.25), 250), edges) for _ in range(500)])
    location, scale = scores.z(shifted)
    assert location.mean() > 3.0
    assert abs(scale.mean()) < 1.0
    location, scale = scores.z(wider)
    assert scale.mean() > 2.0
    assert abs(location.mean()) < 0.5


def _plain_cusum(z: list[float], k: float, h: float, limit: float) -> list[float]:
    """Page's CUSUM with a Shewhart limit and the return test, one value at a time."""
    statistic, back, alarmed, out = 0.0, 0.0, False, []
    for value in z:
        statistic = min(max(0.0, statistic + value - k), 2 * h)
        if value >= limit:
            statistic = 2 * h
        alarmed = alarmed or statistic >= h
        back = max(0.0, back + RETURN_ALLOWANCE * k - value) if alarmed else 0.0
        if back >= h:
            statistic, back, alarmed = 0.0, 0.0, False
        out.append(statistic)
    return out


def test_cusum_matches_pages_recursion_on_each_side() -> None:
    settings = DriftSettings(cusum_k=0.5, cusum_h=6.0, pane_z=3.0)
    rng = np.random.default_rng(0)
    z = rng.normal(0.3, 1.5, size=(400, 3))
    cusum = LocationScaleCusum(("a", "b", "c"), settings)
    history = []
    for row in z:
        cusum.update(row, -row, np.ones(3, dtype=bool))
        history.append(cusum.statistics.copy())
    got = np.array(history)
    assert got.max() == 12.0
    assert (got == 0).any()
    for j in range(3):
        up = _plain_cusum(z[:, j].tolist(), 0.5, 6.0, 3.0)
        down = _plain_cusum((-z[:, j]).tolist(), 0.5, 6.0, 3.0)
        np.testing.assert_allclose(got[:, 0, j], up)
        np.testing.assert_allclose(got[:, 1, j], down)
        np.testing.assert_allclose(got[:, 2, j], down)  # scale was given -z
        np.testing.assert_allclose(got[:, 3, j], up)


def test_an_alarm_ends_only_on_evidence_of_the_return() -> None:
    settings = DriftSettings(cusum_k=1.0, cusum_h=5.0, pane_z=10.0)
    cusum = LocationScaleCusum(("x",), settings)
    tested = np.ones(1, dtype=bool)
    for _ in range(4):  # 3 standard errors a pane: fires on the third
        cusum.update(np.array([3.0]), np.zeros(1), tested)
    assert cusum.findings(tested)[0].breached
    for _ in range(200):  # a drift just above the allowance persists: stays alarmed
        cusum.update(np.array([1.2]), np.zeros(1), tested)
        assert cusum.alarmed[0, 0]
    alarmed = []
    for _ in range(9):  # back to no drift: the alarm ends after h / (0.75 k) panes
        cusum.update(np.zeros(1), np.zeros(1), tested)
        alarmed.append(bool(cusum.alarmed[0, 0]))
    assert alarmed == [True] * 6 + [False] * 3
    finding = cusum.findings(tested)[0]
    assert (finding.breached, finding.hold) == (False, False)


def test_untested_columns_keep_their_state_and_state_round_trips() -> None:
    settings = DriftSettings()
    cusum = LocationScaleCusum(("a", "b"), settings)
    cusum.update(np.array([3.0, 3.0]), np.zeros(2), np.array([True, False]))
    assert cusum.statistics[0].tolist() == [2.0, 0.0]
    restored = LocationScaleCusum(("a", "b"), settings)
    restored.load(cusum.to_dict())
    for name in ("statistics", "returns", "alarmed"):
        np.testing.assert_array_equal(getattr(restored, name), getattr(cusum, name))
