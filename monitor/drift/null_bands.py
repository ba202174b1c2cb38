"""How large a distance gets by chance alone, for a window of a given size.

A fixed threshold (PSI 0.2, Wasserstein 0.1) is sound for large windows and references
but fires on noise when either is small. Like NannyML's bands from reference chunks, the
monitor estimates each distance's spread under "no drift": it draws pairs (reference,
window) of the actual sizes from the reference's own bin shares, computes the distance
of each pair, and raises a column's threshold to that chance level when it is higher.

Distances are skewed to the right, like chi-square statistics, so the level is set on
their cube root (as the Wilson-Hilferty approximation does for chi-square):
``(mean + z * std) ** 3`` of the cube roots. With ``z = 4`` it sits near the 1-in-10,000
tail of 20,000 draws for PSI and Jensen-Shannon on 2 to 20 bins, where ``mean + z * std``
of the distances themselves sat near 1 in 1,000 and a log-normal fit overshot by up to
700x on two-bin columns. The Wasserstein distance on the fine bins (about 200) has a
longer tail: the cube root put the level near 1 in 2,000 to 1 in 1,000 of 100,000 draws,
the fourth root ``(mean + z * std) ** 4`` puts it between 1 in 50,000 and 1 in 2,000
(normal, lognormal, bimodal, zero-inflated and Poisson data; README "How it detects" has
the rates measured on the data, heavy tails included). Wasserstein draws place both
samples' bins at the reference's bin means. Draws are seeded and cached per reference and
window size, so results are deterministic and cost nothing in the steady state.
"""

from collections.abc import Callable

import numpy as np

from monitor.drift.distances import FloatArray

__all__ = ["NullBands"]

Distance = Callable[[FloatArray, FloatArray], FloatArray]

_ROOTS = {"wasserstein": 4.0}
"""The root a distance's draws are taken to before the normal fit; others: the cube root."""


def _buckets(sizes: FloatArray) -> tuple[int, ...]:
    """Sizes to two significant digits, so nearby window sizes share one estimate.

    >>> _buckets(np.array([7, 99, 123, 1999, 20_500]))
    (7, 99, 120, 2000, 20000)
    """
    sizes = np.maximum(np.asarray(sizes, dtype=np.float64), 1.0)
    scale = 10.0 ** np.maximum(np.floor(np.log10(sizes)) - 1, 0)
    return tuple(int(v) for v in (np.round(sizes / scale) * scale).tolist())


class NullBands:
    """Chance levels of a distance between a reference and windows drawn from it.

    Examples
    --------
    >>> from monitor.drift.distances import psi
    >>> bands = NullBands(z=4.0)
    >>> reference = np.array([[250, 250, 250, 250]])
    >>> small = bands.level("psi", psi, reference, np.array([50]))
    >>> large = bands.level("psi", psi, reference, np.array([5000]))
    >>> bool(small[0] > 0.2 > large[0])
    True
    """

    def __init__(self, z: float, draws: int = 200, seed: int = 0) -> None:
        if z <= 0:
            raise ValueError(f"z must be positive, got {z}")
        self.z = z
        self.draws = draws
        self.seed = seed
        self._cache: dict[tuple[str, int, tuple[int, ...]], tuple[FloatArray, FloatArray]] = {}
        self._recent: dict[tuple[str, int, bytes], tuple[FloatArray, FloatArray]] = {}
        self._last_pairs: tuple[FloatArray, tuple[int, ...], FloatArray, FloatArray] | None = None

    def level(
        self,
        name: str,
        distance: Distance,
        reference: FloatArray,
        window_sizes: FloatArray,
        z: float | None = None,
    ) -> FloatArray:
        """``(mean + z * std) ** k`` of the ``k``-th root of ``distance`` under no drift
        (``k`` = 3, or 4 for ``wasserstein``); ``z`` defaults to the bands' own."""
        # Keys hold the reference's id, and entries the reference itself, so an id cannot
        # be reused by another array while its entry exists. The exact sizes are looked up
        # first: in the steady state every window has the sizes of the one before.
        exact = (name, id(reference), window_sizes.tobytes())
        hit = self._recent.get(exact)
        if hit is None or hit[0] is not reference:
            key = (name, id(reference), _buckets(window_sizes))
            hit = self._cache.get(key)
            if hit is None or hit[0] is not reference:
                drawn = self._draw(name, distance, reference, key[2])
                hit = self._cache[key] = (reference, drawn)
            if len(self._recent) > 1_000:
                self._recent.clear()
            self._recent[exact] = hit
        mean, std = hit[1]
        root = _ROOTS.get(name, 3.0)
        return np.asarray((mean + (self.z if z is None else z) * std) ** root)

    def _draw(
        self, name: str, distance: Distance, reference: FloatArray, sizes: tuple[int, ...]
    ) -> FloatArray:
        columns = reference.shape[0]
        drawn_reference, drawn_window = self._pairs(reference, sizes)
        values = distance(drawn_reference, drawn_window).reshape(self.draws, columns)
        root = _ROOTS.get(name, 3.0)
        roots = np.maximum(values, 0.0) ** (1.0 / root)
        return np.stack([roots.mean(axis=0), roots.std(axis=0)])

    def _pairs(
        self, reference: FloatArray, sizes: tuple[int, ...]
    ) -> tuple[FloatArray, FloatArray]:
        """``draws`` pairs (reference, window) per column, drawn from the reference's bin
        shares; the last pairs are kept, so the tests of one window share their draws."""
        last = self._last_pairs
        if last is not None and last[0] is reference and last[1] == sizes:
            return last[2], last[3]
        columns, width = reference.shape
        totals = reference.sum(axis=1)
        shares = np.where(
            totals[:, None] > 0, reference / np.maximum(totals, 1)[:, None], 1.0 / width
        )
        rng = np.random.default_rng(self.seed)
        shape = (self.draws, columns, width)
        means = shares[None, :, :] * totals[None, :, None]
        window_means = shares[None, :, :] * np.array(sizes, dtype=np.float64)[None, :, None]
        pairs = (
            _poisson(rng, np.broadcast_to(means, shape)).reshape(-1, width),
            _poisson(rng, np.broadcast_to(window_means, shape)).reshape(-1, width),
        )
        self._last_pairs = (reference, sizes, *pairs)
        return pairs


_NORMAL_FROM = 5.0
"""Mean from which a Poisson count is drawn from its normal approximation."""


def _poisson(rng: np.random.Generator, means: FloatArray) -> FloatArray:
    """Poisson counts of ``means``: the multinomial's shares but for a total that varies
    by about its square root, which distances of shares barely see, at a fraction of a
    multinomial draw's cost over a few hundred fine bins; counts of large means come from
    the normal approximation (rounded), faster still.
    """
    counts = np.rint(means + np.sqrt(means) * rng.standard_normal(means.shape))
    small = means < _NORMAL_FROM
    counts[small] = rng.poisson(means[small])
    return np.maximum(counts, 0.0)
