"""How close the reported drift statistics are to their textbook values, and how often
chance alone crosses the chance levels.

Run from the repository root::

    python -m bench.exactness accuracy            # ours vs scipy, max error over seeds
    python -m bench.exactness tails --windows 20000

``accuracy`` draws, per seed, a reference (20,000 to 50,000 values) and windows (250 to
5,000 values; unchanged, shifted and scaled) of six shapes, tests them with
:class:`~monitor.drift.batch.DriftCheck` and prints, per shape and statistic, the largest
error against scipy on the raw data (Wasserstein and KS), or against the formula on the
raw data binned on the reference's quantile bins (PSI, Jensen-Shannon, chi-square). The
shapes are the ones ``tests/unit/test_exact_statistics.py`` tests.

``tails`` measures the false alarm rate of the chance levels of
:class:`~monitor.drift.null_bands.NullBands`: for references of 20,000 values and windows
drawn from the same distribution, the share of windows whose PSI, Jensen-Shannon or
Wasserstein distance is at or above its chance level (meant to be near 1 in 10,000), and
the share at or above the threshold a Wasserstein test fires at, the larger of
``drift.thresholds`` (0.1) and the chance level.
"""

import argparse
import sys
from collections.abc import Callable

import numpy as np
from scipy import stats
from scipy.spatial import distance

from monitor.drift import checks, distances
from monitor.drift.batch import DriftCheck
from monitor.drift.null_bands import NullBands
from monitor.settings import DriftSettings, ReferenceSettings
from monitor.stats.numeric import NumericBins, NumericSummary

Shape = Callable[[np.random.Generator, int, float, float], np.ndarray]
"""A sample of ``size`` values, shifted by ``shift`` (in the shape's units), scaled."""

SHAPES: dict[str, Shape] = {
    "normal": lambda rng, n, shift, scale: rng.normal(shift, scale, n),
    "lognormal": lambda rng, n, shift, scale: np.exp(rng.normal(shift, scale, n)),
    "pareto": lambda rng, n, shift, scale: (rng.pareto(1.5, n) + 1.0) * (1 + shift) * scale,
    "poisson": lambda rng, n, shift, scale: rng.poisson(3.0 * (1 + shift) * scale, n) * 1.0,
    "bimodal": lambda rng, n, shift, scale: (
        np.where(rng.random(n) < 0.5, rng.normal(-2.0, 0.7, n), rng.normal(2.0, 1.0, n)) * scale
        + shift
    ),
    "zero_inflated": lambda rng, n, shift, scale: np.where(
        rng.random(n) < 0.4, 0.0, rng.gamma(2.0, 10.0, n) * scale + 10.0 * shift
    ),
}
CASES = {"same": (0.0, 1.0), "shifted": (0.1, 1.0), "scaled": (0.0, 1.3)}
WINDOWS = [250, 1000, 2000, 5000]
TESTS = ["wasserstein", "ks", "psi", "jensen_shannon", "chi_square"]


def accuracy(seeds: int) -> None:
    """Print the table of the largest errors over ``seeds`` seeds."""
    worst: dict[tuple[str, str], list[float]] = {}
    settings = DriftSettings(numeric_tests=TESTS, min_values=1)
    for seed in range(seeds):
        rng = np.random.default_rng(1000 + seed)
        size = (20_000, 30_000, 50_000)[seed % 3]
        reference = {name: shape(rng, size, 0.0, 1.0) for name, shape in SHAPES.items()}
        check = DriftCheck(reference, settings, ReferenceSettings())
        edges = check.profile.features.layout.numeric
        for shift, scale in CASES.values():
            for n in WINDOWS:
                window = {name: shape(rng, n, shift, scale) for name, shape in SHAPES.items()}
                for finding in check.test(window):
                    name, ours = finding.subject, finding.details
                    ref, win = reference[name], window[name]
                    cuts = edges.edges[edges.names.index(name)]
                    table = np.stack(
                        [
                            np.bincount(
                                np.searchsorted(cuts, x, side="right"), minlength=cuts.size + 1
                            )
                            for x in (ref, win)
                        ]
                    ).astype(np.float64)
                    p, q = (np.maximum(r / r.sum(), distances.PSI_FLOOR) for r in table)
                    used = table.sum(axis=0) > 0
                    chi2 = stats.chi2_contingency(table[:, used], correction=False)
                    ks = stats.ks_2samp(ref, win, method="asymp")
                    exact = {
                        "wasserstein": stats.wasserstein_distance(ref, win) / ref.std(),
                        "ks": ks.statistic,
                        "ks_p_value": ks.pvalue,
                        "psi": float(((q - p) * np.log(q / p)).sum()),
                        "jensen_shannon": distance.jensenshannon(table[0], table[1]),
                        "chi_square": chi2.statistic,
                    }
                    for statistic, value in exact.items():
                        error = abs(ours[statistic] - value)
                        row = worst.setdefault((name, statistic), [0.0, 0.0, 0.0])
                        row[0] = max(row[0], error / max(0.05 * value, 0.005))
                        row[1] = max(row[1], error)
                        row[2] = max(row[2], error / value if value >= 0.1 else 0.0)
    print(f"max error over {seeds} seeds x {len(CASES)} cases x windows {WINDOWS}")
    print("tolerance: the larger of 5% of the exact value and 0.005")
    print(
        "| shape | statistic | max error / tolerance | max absolute | max relative, exact >= 0.1 |"
    )
    print("|---|---|---|---|---|")
    for (name, statistic), (ratio, absolute, relative) in worst.items():
        print(f"| {name} | {statistic} | {ratio:.2f} | {absolute:.4f} | {relative:.4f} |")


def tails(windows: int, references: int, reference_size: int) -> None:
    """Print the share of same-distribution windows at or above their chance level."""
    settings = DriftSettings()
    print(f"{references} references of {reference_size} x {windows // references} windows")
    print(
        "| shape | window | wasserstein | psi | jensen_shannon | wasserstein >= max(0.1, level) |"
    )
    print("|---|---|---|---|---|---|")
    for name, shape in SHAPES.items():
        for n in (250, 1000, 2000):
            hits = dict.fromkeys(("wasserstein", "psi", "jensen_shannon", "fired"), 0)
            for r in range(references):
                rng = np.random.default_rng(r)
                values = shape(rng, reference_size, 0.0, 1.0)[:, None]
                bins = NumericBins.from_quantiles(["x"], values, 20, ReferenceSettings().resolution)
                reference = NumericSummary(bins)
                reference.update(values)
                drawn = windows // references
                batch = shape(rng, drawn * n, 0.0, 1.0).reshape(drawn, n)
                summaries = [NumericSummary(bins) for _ in range(drawn)]
                for summary, row in zip(summaries, batch, strict=True):
                    summary.update(row[:, None])
                bands = NullBands(settings.null_z)
                for test in ("wasserstein", "psi", "jensen_shannon"):
                    first = checks.Continuous.of(reference, summaries[0])
                    _, level, _ = checks._run(
                        test, reference.counts, summaries[0].counts, 0.0, bands, first
                    )
                    if test == "wasserstein":
                        scores = [
                            distances.wasserstein(
                                reference.fine_counts,
                                s.fine_counts,
                                c.positions,
                                c.std,
                                c.window_positions,
                            )[0]
                            for s in summaries
                            for c in [checks.Continuous.of(reference, s)]
                        ]
                    else:
                        run = distances.psi if test == "psi" else distances.jensen_shannon
                        counts = np.vstack([s.counts for s in summaries])
                        scores = run(np.repeat(reference.counts, drawn, axis=0), counts).tolist()
                    hits[test] += int((np.asarray(scores) >= level[0]).sum())
                    if test == "wasserstein":
                        threshold = max(settings.thresholds[test], float(level[0]))
                        hits["fired"] += int((np.asarray(scores) >= threshold).sum())
            rates = " | ".join(f"{hits[t] / windows:.5f}" for t in hits)
            print(f"| {name} | {n} | {rates} |")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.exactness", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("accuracy").add_argument("--seeds", type=int, default=6)
    tail = sub.add_parser("tails")
    tail.add_argument("--windows", type=int, default=20_000)
    tail.add_argument("--references", type=int, default=5)
    tail.add_argument("--reference-size", type=int, default=20_000)
    args = parser.parse_args(argv)
    if args.command == "accuracy":
        accuracy(args.seeds)
    else:
        tails(args.windows, args.references, args.reference_size)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
