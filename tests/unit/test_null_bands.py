"""NullBands: chance levels of a distance, seeded and cached."""

import numpy as np
import pytest

from monitor.drift.distances import jensen_shannon, psi
from monitor.drift.null_bands import NullBands

REFERENCE = np.array(
    [
        np.random.default_rng(1).multinomial(5000, np.full(20, 0.05)),
        np.random.default_rng(2).multinomial(5000, np.linspace(1.0, 3.0, 20) / 40.0),
    ],
    dtype=np.float64,
)


def test_same_inputs_give_the_same_levels() -> None:
    sizes = np.array([1000, 1000])
    first = NullBands(z=4.0).level("psi", psi, REFERENCE, sizes)
    second = NullBands(z=4.0).level("psi", psi, REFERENCE, sizes)
    assert np.array_equal(first, second)
    assert first.shape == (2,)
    assert (first > 0).all()


def test_the_seed_matters() -> None:
    sizes = np.array([1000, 1000])
    first = NullBands(z=4.0, seed=0).level("psi", psi, REFERENCE, sizes)
    other = NullBands(z=4.0, seed=1).level("psi", psi, REFERENCE, sizes)
    assert not np.array_equal(first, other)
    np.testing.assert_allclose(first, other, rtol=0.5)


@pytest.mark.parametrize(("name", "measure"), [("psi", psi), ("jensen_shannon", jensen_shannon)])
def test_level_falls_as_the_window_grows(name: str, measure: object) -> None:
    bands = NullBands(z=4.0)
    levels = [
        bands.level(name, measure, REFERENCE, np.array([n, n]))  # type: ignore[arg-type]
        for n in (100, 300, 1000, 3000, 10000)
    ]
    assert (np.diff(np.array(levels), axis=0) < 0).all()


def test_higher_z_gives_higher_levels() -> None:
    sizes = np.array([500, 500])
    low = NullBands(z=2.0).level("psi", psi, REFERENCE, sizes)
    high = NullBands(z=4.0).level("psi", psi, REFERENCE, sizes)
    assert (high > low).all()


def test_draws_are_cached_per_reference_and_size_bucket() -> None:
    bands = NullBands(z=4.0)
    first = bands.level("psi", psi, REFERENCE, np.array([1234, 5000]))
    assert len(bands._cache) == 1
    np.testing.assert_array_equal(bands.level("psi", psi, REFERENCE, np.array([1234, 5000])), first)
    # sizes share an estimate to two significant digits
    np.testing.assert_array_equal(bands.level("psi", psi, REFERENCE, np.array([1240, 4960])), first)
    assert len(bands._cache) == 1
    bands.level("psi", psi, REFERENCE, np.array([1300, 5000]))
    bands.level("jensen_shannon", jensen_shannon, REFERENCE, np.array([1234, 5000]))
    assert len(bands._cache) == 3


def test_a_lower_z_gives_a_lower_level_from_the_same_draws() -> None:
    bands = NullBands(z=4.0)
    high = bands.level("psi", psi, REFERENCE, np.array([1234, 5000]))
    low = bands.level("psi", psi, REFERENCE, np.array([1234, 5000]), z=2.0)
    assert (low < high).all()
    assert len(bands._cache) == 1


def test_z_must_be_positive() -> None:
    with pytest.raises(ValueError, match="z must be positive"):
        NullBands(z=0.0)


def test_cache_tells_references_apart() -> None:
    bands = NullBands(z=4.0)
    uniform = np.array([[500.0, 500.0, 500.0, 500.0]])
    skewed = np.array([[1700.0, 100.0, 100.0, 100.0]])
    bands.level("psi", psi, uniform, np.array([200]))
    assert np.array_equal(
        bands.level("psi", psi, skewed, np.array([200])),
        NullBands(z=4.0).level("psi", psi, skewed, np.array([200])),
    )


def _simulated_max(reference: np.ndarray, size: int, draws: int = 20_000) -> float:
    """Largest PSI of ``draws`` (reference, window) pairs drawn with no drift at all."""
    rng = np.random.default_rng(12345)
    total = int(reference.sum())
    shares = reference[0] / total
    drawn_reference = rng.multinomial(total, shares, size=draws).astype(np.float64)
    drawn_window = rng.multinomial(size, shares, size=draws).astype(np.float64)
    return float(psi(drawn_reference, drawn_window).max())


@pytest.mark.parametrize(
    ("reference", "size"),
    [
        pytest.param(np.full((1, 20), 250.0), 2000, id="20-bins"),
        pytest.param(np.full((1, 50), 100.0), 500, id="50-bins"),
        pytest.param(
            np.array([[2500.0, 2500.0]]),
            2000,
            id="boolean",
        ),
        pytest.param(
            np.array([[250.0, 250.0, 250.0, 250.0]]),
            2000,
            id="4-categories",
        ),
    ],
)
def test_level_stays_near_the_no_drift_tail(reference: np.ndarray, size: int) -> None:
    # exp(mean + 4 std) of the log-distances is meant to sit near the 1-in-30,000 tail;
    # three times the largest of 20,000 no-drift draws is a generous bound for it
    level = NullBands(z=4.0).level("psi", psi, reference, np.array([size]))[0]
    assert level <= 3 * _simulated_max(reference, size)
