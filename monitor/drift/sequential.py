"""Sequential tests of every numeric feature's location and scale, pane by pane.

A window test forgets the evidence of the windows before it, so its delay is set by the
window, not by the size of the change. Here each closed pane (``window.pane`` events)
gives two scores per numeric feature, and two-sided CUSUMs (Page, 1954) add them up:

- the scores are *normal scores* of the reference's bins: a value in a bin that holds
  the reference's quantiles ``(a, b)`` scores ``E[Z | Z in (Φ⁻¹(a), Φ⁻¹(b))]`` for
  location (van der Waerden's test) and ``E[Z² | ...]`` for scale (Klotz's test), Z
  standard normal. Under "no drift" a pane's mean score has a mean and variance known
  exactly from the reference's bin shares, whatever the feature's shape (skewed, heavy
  tailed, with ties), so one threshold holds for every feature; on normal data the
  tests are as efficient as the t- and F-tests.
- a pane's z-score is its mean score's distance from the null mean in standard errors,
  the reference's own sampling error included;
- each CUSUM adds ``z - k`` (``drift.cusum_k``) and fires at ``drift.cusum_h``; a single
  pane ``drift.pane_z`` standard errors out fires at once (a Shewhart limit beside the
  CUSUM, for gross changes). Statistics are capped at twice the threshold.
- once fired, a CUSUM stays alarmed until sequential evidence of the return: a second
  CUSUM adds ``3 k / 4 - z`` and ends the alarm at ``drift.cusum_h`` (about
  ``4 h / (3 k)`` panes after the drift ends, more when the reference's own sampling
  error biases the scores). A persistent drift near the allowance keeps adding evidence
  against the return, so it stays one episode instead of flapping.

With the defaults, the false-alarm rate was measured at well under one per 1,000,000
events per model of 25 features, and a CUSUM of such scores detects a shift of ``d``
standard errors per pane after about ``(h + 1.17) / (d - k)`` panes (Siegmund's
approximation): the order of Lorden's lower bound for any test with that false-alarm rate.
"""

from dataclasses import dataclass, field
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from monitor.findings import Finding
from monitor.settings import DriftSettings
from monitor.stats.numeric import FloatArray, IntArray
from schemas.alerts import AlertKind, Severity

__all__ = ["BinScores", "LocationScaleCusum"]

RETURN_ALLOWANCE = 0.75
"""The return test's allowance, as a share of ``drift.cusum_k``: below 1, so that a drift
just above the allowance keeps the alarm; not 1/2, so that a reference biased by its own
sampling error (up to about 0.4 standard errors a pane on heavy tails) still returns."""

_STATISTICS = ("location", "location", "scale", "scale")
_DIRECTIONS = ("up", "down", "up", "down")


@dataclass(frozen=True, eq=False)
class BinScores:
    """Location and scale scores of each bin of a reference, and their null moments.

    ``counts`` are the reference's counts (columns x bins). Bins the reference left
    empty get the score of their edge: values there are a change, not noise.

    >>> scores = BinScores.from_counts(np.array([[250, 250, 250, 250]]))
    >>> scores.location.round(2).tolist(), scores.scale.round(2).tolist()
    ([[-1.27, -0.32, 0.32, 1.27]], [[1.84, 0.14, 0.14, 1.84]])
    >>> z_location, z_scale = scores.z(np.array([[0, 0, 50, 50]]))
    >>> z_location.round(1).tolist(), z_scale.round(1).tolist()  # shifted up, same spread
    ([8.2], [0.0])
    """

    location: FloatArray
    scale: FloatArray
    location_var: FloatArray
    scale_var: FloatArray
    reference_count: FloatArray
    scale_mean: FloatArray = field(repr=False)

    @classmethod
    def from_counts(cls, counts: IntArray) -> Self:
        """Scores from the reference's bin counts."""
        from scipy import special  # here: importing scipy costs 0.2-0.45 s of every start

        counts = np.asarray(counts, dtype=np.float64)
        totals = counts.sum(axis=1, keepdims=True)
        shares = counts / np.maximum(totals, 1.0)
        upper = np.cumsum(shares, axis=1)
        lower = upper - shares
        floor = 0.5 / np.maximum(totals, 1.0)  # no infinite score at an empty end
        z_low = special.ndtri(np.clip(lower, floor, 1 - floor))
        z_high = special.ndtri(np.clip(upper, floor, 1 - floor))
        pdf_low, pdf_high = _pdf(z_low), _pdf(z_high)
        mass = special.ndtr(z_high) - special.ndtr(z_low)
        filled = mass > 1e-12
        safe = np.where(filled, mass, 1.0)
        location = np.where(filled, (pdf_low - pdf_high) / safe, z_low)
        scale = np.where(filled, 1.0 + (z_low * pdf_low - z_high * pdf_high) / safe, z_low**2)
        location_mean = (shares * location).sum(axis=1)
        scale_mean = (shares * scale).sum(axis=1)
        return cls(
            location=location - location_mean[:, None],
            scale=scale,
            location_var=(shares * (location - location_mean[:, None]) ** 2).sum(axis=1),
            scale_var=(shares * (scale - scale_mean[:, None]) ** 2).sum(axis=1),
            reference_count=totals[:, 0],
            scale_mean=scale_mean,
        )

    def z(self, counts: IntArray) -> tuple[FloatArray, FloatArray]:
        """Per column, the location and scale z-scores of a pane's counts (0 where the
        pane or the reference has no spread to test)."""
        n = counts.sum(axis=1).astype(np.float64)
        safe_n = np.maximum(n, 1.0)
        # the reference is a sample too: its error adds n / N of a pane's variance
        inflation = 1.0 + n / np.maximum(self.reference_count, 1.0)
        location = (counts * self.location).sum(axis=1) / safe_n
        scale = (counts * self.scale).sum(axis=1) / safe_n - self.scale_mean
        return (
            _standardise(location, self.location_var * inflation / safe_n),
            _standardise(scale, self.scale_var * inflation / safe_n),
        )


def _pdf(z: FloatArray) -> FloatArray:
    with np.errstate(over="ignore"):
        return np.asarray(np.exp(-0.5 * z * z) / np.sqrt(2.0 * np.pi))


def _standardise(value: FloatArray, variance: FloatArray) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(np.where(variance > 0, value / np.sqrt(variance), 0.0))


class LocationScaleCusum:
    """Two-sided CUSUMs of the location and scale scores of each numeric column.

    ``statistics`` holds, per column, the CUSUMs of location up and down, then scale up
    and down (4 x columns).

    ``returns`` holds the CUSUMs of the return of alarmed ones, and ``alarmed`` which
    are alarmed, in the same shape.

    Examples
    --------
    >>> cusum = LocationScaleCusum(("x",), DriftSettings(cusum_k=1.0, cusum_h=5.0, pane_z=6.0))
    >>> tested = np.array([True])
    >>> for z in (0.5, 3.0, 3.0):  # a shift of 3 standard errors per pane
    ...     cusum.update(np.array([z]), np.array([0.0]), tested)
    >>> cusum.statistics[:, 0].tolist()
    [4.0, 0.0, 0.0, 0.0]
    >>> cusum.update(np.array([3.0]), np.array([0.0]), tested)
    >>> [(f.subject, f.statistic, f.score, f.breached) for f in cusum.findings(tested)]
    [('x', 'location', 6.0, True)]
    >>> cusum.update(np.array([0.0]), np.array([-7.0]), tested)  # one pane far out
    >>> cusum.findings(tested)[0].details
    {'direction': 'down', 'pane_z': -7.0, 'cusum_location': 5.0, 'cusum_scale': 10.0}
    >>> for _ in range(7):  # back to normal: the return adds 0.75 a pane
    ...     cusum.update(np.array([0.0]), np.array([0.0]), tested)
    >>> cusum.alarmed[:, 0].tolist(), cusum.findings(tested)[0].hold
    ([False, False, False, False], False)
    """

    def __init__(self, names: tuple[str, ...], settings: DriftSettings) -> None:
        self.names = names
        self.settings = settings
        self.statistics: FloatArray = np.zeros((4, len(names)))
        self.returns: FloatArray = np.zeros((4, len(names)))
        self.alarmed: npt.NDArray[np.bool_] = np.zeros((4, len(names)), dtype=np.bool_)
        self._z: FloatArray = np.zeros((4, len(names)))

    def update(self, location: FloatArray, scale: FloatArray, tested: np.ndarray) -> None:
        """Add one pane's z-scores; columns not ``tested`` keep their statistics."""
        k, h = self.settings.cusum_k, self.settings.cusum_h
        z = np.where(tested, np.stack([location, -location, scale, -scale]), 0.0)
        grown = np.clip(self.statistics + z - k, 0.0, 2.0 * h)
        grown = np.where(z >= self.settings.pane_z, 2.0 * h, grown)
        statistics = np.where(tested, grown, self.statistics)
        alarmed = self.alarmed | (statistics >= h)
        back_k = RETURN_ALLOWANCE * k
        returns = np.where(alarmed & tested, np.maximum(self.returns + back_k - z, 0.0), 0.0)
        back = returns >= h
        self.statistics = np.where(back, 0.0, statistics)
        self.returns = np.where(back, 0.0, returns)
        self.alarmed = alarmed & ~back
        self._z = z

    def open(self) -> npt.NDArray[np.bool_]:
        """Per column, whether a CUSUM is at its threshold or alarmed."""
        at_threshold = self.statistics >= self.settings.cusum_h
        return np.asarray((at_threshold | self.alarmed).any(axis=0), dtype=np.bool_)

    def findings(self, tested: np.ndarray) -> list[Finding]:
        """One ``feature_drift`` finding per tested column: its strongest CUSUM against
        ``drift.cusum_h``."""
        h = self.settings.cusum_h
        strongest = self.statistics.argmax(axis=0)
        alarmed: npt.NDArray[np.bool_] = np.asarray(self.alarmed.any(axis=0))
        findings = []
        for j in np.flatnonzero(tested):
            which = int(strongest[j])
            score = float(self.statistics[which, j])
            breached = score >= h
            findings.append(
                Finding(
                    kind=AlertKind.FEATURE_DRIFT,
                    subject=self.names[j],
                    statistic=_STATISTICS[which],
                    score=round(score, 6),
                    threshold=h,
                    breached=breached,
                    severity=Severity.CRITICAL if score >= 2.0 * h else Severity.WARNING,
                    details={
                        "direction": _DIRECTIONS[which],
                        "pane_z": round(float(self._z[which, j]) * (-1 if which % 2 else 1), 6),
                        "cusum_location": round(float(self.statistics[:2, j].max()), 6),
                        "cusum_scale": round(float(self.statistics[2:, j].max()), 6),
                    },
                    immediate=breached,  # calibrated to the false-alarm budget on its own
                    hold=not breached and bool(alarmed[j]),
                )
            )
        return findings

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state."""
        return {
            "statistics": self.statistics.tolist(),
            "returns": self.returns.tolist(),
            "alarmed": self.alarmed.tolist(),
        }

    def load(self, data: dict[str, Any]) -> None:
        """Restore the state saved by :meth:`to_dict`."""
        shape = self.statistics.shape
        self.statistics = np.asarray(data["statistics"], dtype=np.float64).reshape(shape)
        self.returns = np.asarray(data["returns"], dtype=np.float64).reshape(shape)
        self.alarmed = np.asarray(data["alarmed"], dtype=np.bool_).reshape(shape)
