"""Every reported drift statistic against scipy on the raw data, on six shapes of data.

Wasserstein and KS are statistics of the continuous data: the monitor computes them on
fine bins (``reference.resolution``) and must land within 5% relative or 0.005 absolute
of scipy's value on the raw samples. PSI, Jensen-Shannon and chi-square are binned by
definition: their textbook value is the formula on the raw data histogrammed on the
reference's ``reference.bins`` quantile bins, which the monitor must reproduce exactly.
"""

import numpy as np
import pytest
from scipy import stats
from scipy.spatial import distance

from bench.exactness import CASES, SHAPES, WINDOWS
from monitor.drift.batch import DriftCheck
from monitor.drift.distances import PSI_FLOOR
from monitor.settings import DriftSettings, ReferenceSettings

REFERENCES = {0: 20_000, 1: 50_000, 2: 30_000}  # seed: reference size
TESTS = ["wasserstein", "ks", "psi", "jensen_shannon", "chi_square"]
SETTINGS = DriftSettings(numeric_tests=TESTS, min_values=1)


def _close(ours: float, exact: float, rel: float = 0.05, absolute: float = 0.005) -> bool:
    return abs(ours - exact) <= max(rel * abs(exact), absolute)


def _samples(seed: int) -> tuple[dict[str, np.ndarray], dict[tuple[str, int], dict]]:
    rng = np.random.default_rng(seed)
    reference = {name: shape(rng, REFERENCES[seed], 0.0, 1.0) for name, shape in SHAPES.items()}
    windows = {
        (case, size): {name: shape(rng, size, *CASES[case]) for name, shape in SHAPES.items()}
        for case in CASES
        for size in WINDOWS
    }
    return reference, windows


def _binned(reference: np.ndarray, window: np.ndarray, bins: int) -> np.ndarray:
    """The textbook histogram: both samples on the reference's quantile bins."""
    edges = np.unique(np.quantile(reference, np.linspace(0.0, 1.0, bins + 1)[1:-1]))
    width = edges.size + 1
    return np.stack(
        [
            np.bincount(np.searchsorted(edges, x, side="right"), minlength=width)
            for x in (reference, window)
        ]
    ).astype(np.float64)


@pytest.mark.parametrize("seed", sorted(REFERENCES))
def test_every_statistic_is_the_textbook_value_on_the_raw_data(seed: int) -> None:
    reference, windows = _samples(seed)
    check = DriftCheck(reference, SETTINGS, ReferenceSettings())
    failures = []
    for (case, size), window in windows.items():
        findings = {f.subject: f.details for f in check.test(window)}
        assert sorted(findings) == sorted(SHAPES)
        for name, details in findings.items():
            ref, win = reference[name], window[name]
            exact_w1 = stats.wasserstein_distance(ref, win) / ref.std()
            exact_ks = stats.ks_2samp(ref, win, method="asymp")
            table = _binned(ref, win, ReferenceSettings().bins)
            p, q = (np.maximum(row / row.sum(), PSI_FLOOR) for row in table)
            used = table.sum(axis=0) > 0
            chi2 = stats.chi2_contingency(table[:, used], correction=False)
            n, m = ref.size, win.size
            expected = {
                "wasserstein": (exact_w1, details["wasserstein"], 0.05, 0.005),
                "ks": (exact_ks.statistic, details["ks"], 0.0, 0.005),
                "ks_p_value": (
                    stats.kstwo.sf(details["ks"], round(n * m / (n + m))),
                    details["ks_p_value"],
                    1e-3,  # details hold the statistic rounded to 6 digits
                    1e-9,
                ),
                "psi": (float(((q - p) * np.log(q / p)).sum()), details["psi"], 1e-4, 1e-6),
                "jensen_shannon": (
                    distance.jensenshannon(table[0], table[1]),
                    details["jensen_shannon"],
                    1e-4,
                    1e-6,
                ),
                "chi_square": (chi2.statistic, details["chi_square"], 1e-6, 1e-5),
                "chi_square_p_value": (chi2.pvalue, details["chi_square_p_value"], 1e-6, 1e-12),
            }
            if np.isclose(details["ks"], exact_ks.statistic, rtol=0, atol=1e-6):
                expected["ks_scipy_p_value"] = (exact_ks.pvalue, details["ks_p_value"], 0.0, 0.005)
            for statistic, (exact, ours, rel, absolute) in expected.items():
                if not _close(ours, exact, rel, absolute):
                    failures.append((name, case, size, statistic, ours, exact))
    assert not failures, failures
