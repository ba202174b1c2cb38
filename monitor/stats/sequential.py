"""One-sided CUSUM (Page 1954) on a stream of log-likelihood-ratio increments.

The statistic is ``S_t = max(0, S_{t-1} + x_t)``; it alarms when it reaches ``h``. For
increments that are log-likelihood ratios of a post-change against the pre-change law,
Lorden (1971) bounds the mean run to a false alarm: ``ARL0 >= e^h`` (so
``h = ln(ARL0)``), and the delay after a change is about ``h / KL`` increments, KL the
Kullback-Leibler divergence of the post-change law from the pre-change one.

The bound holds for any increments whose exponential has mean at most one before the
change (the CUSUM is then a maximum of test supermartingales: Shin, Ramdas and Rinaldo
2023, "E-detectors"). Two such increments serve the loss streams of
:mod:`monitor.stats.metrics`:

- :func:`bernoulli_increments`, for a 0/1 error: the exact log-likelihood ratio of an
  error rate ``p1`` against ``p0``.
- :func:`bennett_increments`, for a bounded continuous loss (log loss, Brier score,
  absolute or squared error clipped at a high quantile of the baseline's): a linear
  increment less Bennett's bound on its log moment generating function, valid whatever
  the losses' distribution, given their mean and variance.

The state is three plain numbers, so a checkpoint restores it exactly.
"""

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["Cusum", "bennett_increments", "bernoulli_increments", "log_threshold"]

_UNIT = 2.0**32


@dataclass
class Cusum:
    """A one-sided CUSUM with threshold ``threshold``, alarmed from a crossing until
    :meth:`settle` finds its statistic below half the threshold.

    :meth:`settle`, at the end of each pane, also caps the statistic at the threshold, so
    a long degradation does not delay the recovery by as long. Between two settles the
    result does not depend on how the increments were batched.

    Examples
    --------
    >>> cusum = Cusum(threshold=3.0)
    >>> cusum.update([1.0, 1.0, -0.5]), cusum.statistic, cusum.alarmed
    (False, 1.5, False)
    >>> cusum.update([1.0, 1.0, 1.0]), cusum.statistic, cusum.alarmed, cusum.detections
    (True, 4.5, True, 1)
    >>> cusum.settle(); cusum.statistic
    3.0
    >>> cusum.update([-2.0]); cusum.settle(); cusum.alarmed  # below half: the alarm ends
    False
    False
    """

    threshold: float
    statistic: float = 0.0
    alarmed: bool = False
    detections: int = 0

    def update(self, increments: ArrayLike) -> bool:
        """Add ``increments`` in order; True if the statistic reached the threshold.

        Vectorised: with ``C`` the cumulative sums, ``S_t = C_t - min(-S_0, min C_{1..t})``.
        The increments are rounded to multiples of 2^-32 first, so every sum is exact and
        the statistic does not depend on how they were batched.
        """
        x = np.round(np.asarray(increments, dtype=float) * _UNIT) / _UNIT
        if x.size == 0:
            return False
        c = np.cumsum(x)
        s = c - np.minimum(np.minimum.accumulate(c), -self.statistic)
        self.statistic = float(s[-1])
        crossed = bool(s.max() >= self.threshold)
        if crossed and not self.alarmed:
            self.detections += 1
            self.alarmed = True
        return crossed

    def settle(self) -> None:
        """Cap the statistic at the threshold; end the alarm below half of it."""
        self.statistic = min(self.statistic, self.threshold)
        if self.statistic < self.threshold / 2:
            self.alarmed = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state."""
        return vars(self).copy()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Cusum":
        """Inverse of :meth:`to_dict`."""
        return cls(**data)


def bernoulli_increments(errors: NDArray[np.float64], p0: float, p1: float) -> NDArray[np.float64]:
    """Log-likelihood ratios of 0/1 ``errors`` under error rate ``p1`` against ``p0``.

    >>> bernoulli_increments(np.array([1.0, 0.0]), 0.1, 0.2).round(4).tolist()
    [0.6931, -0.1178]
    """
    up, down = math.log(p1 / p0), math.log((1 - p1) / (1 - p0))
    return np.where(errors > 0, up, down)


def bennett_increments(
    losses: NDArray[np.float64], mean0: float, var0: float, bound: float, change: float
) -> NDArray[np.float64]:
    """Increments of an e-CUSUM for losses in ``[0, bound]`` (clipped there) whose mean
    must not rise by ``change`` above ``mean0``, their variance at most ``var0``.

    Each is ``lambda (x - mean0) - psi(lambda)``, ``psi`` Bennett's bound on the log
    moment generating function of a variable at most ``bound`` above its mean with that
    variance, ``psi(l) = var0 / bound^2 (e^(l bound) - 1 - l bound)``; so ``E e^x <= 1``
    before a change, whatever the losses' law, and Lorden's ``ARL0 >= e^h`` holds as for
    a likelihood ratio. ``lambda = ln(1 + change bound / var0) / bound`` maximizes the
    drift after a change of ``change``.

    >>> x = bennett_increments(np.array([0.0, 1.0, 5.0]), 0.5, 0.25, 2.0, 0.25)
    >>> x.round(4).tolist()
    [-0.331, 0.2183, 0.7676]
    """
    lam = math.log1p(change * bound / var0) / bound
    psi = var0 / bound**2 * math.expm1(lam * bound) - var0 / bound * lam
    return lam * (np.minimum(losses, bound) - mean0) - psi


def log_threshold(arl0: float) -> float:
    """``h = ln(ARL0)``: Lorden's bound makes the mean run to a false alarm at least ARL0.

    >>> round(log_threshold(1e6), 3)
    13.816
    """
    return math.log(arl0)
