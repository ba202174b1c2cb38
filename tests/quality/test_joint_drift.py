"""Joint drift end to end: a correlation that flips with every marginal unchanged.

Each stream has 10 to 25 numeric features drawn through a Gaussian copula: two of them
(``x00``, ``x01``) correlated +0.8, the rest independent; "skewed" streams give every
feature a non-normal marginal (lognormal, exponential, uniform, counts) by a monotone
transform of its normal score (Student t with 3 dof among them). At the onset the pair's
correlation flips to -0.8: the marginals stay as they were, so only the PCA
reconstruction error can see it. The reference is a clean draw of the same stream;
everything runs through :class:`monitor.core.Monitor` at default settings.

``python -m tests.quality.test_joint_drift`` prints the delays and the false alarms per
1,000,000 stationary events over more seeds.
"""

import sys

import numpy as np
import pytest
from scipy import special, stats

from monitor.core import Monitor
from monitor.reference.build import ProfileBuilder
from monitor.reference.profile import ReferenceSet
from monitor.settings import MonitorSettings
from schemas.alerts import Alert, AlertKind, AlertStatus
from schemas.wire import WirePrediction

pytestmark = pytest.mark.quality

REFERENCE_EVENTS = 20_000
ONSET = 10_000
BUDGET = 5_000
BATCH = 500
_MARGINALS = (
    lambda z: np.exp(z),  # lognormal
    lambda z: -np.log(special.ndtr(-z)),  # exponential
    special.ndtr,  # uniform
    lambda z: np.floor(3 * np.exp(0.5 * z)),  # counts, with ties
    lambda z: stats.t.ppf(special.ndtr(z), 3),  # heavy tails on both sides
)


def draw(
    rng: np.random.Generator, events: int, features: int, rho: float, skewed: bool
) -> np.ndarray:
    """``events`` x ``features``: the first two correlated ``rho``, the rest independent."""
    normal = rng.normal(size=(events, features))
    normal[:, 1] = rho * normal[:, 0] + np.sqrt(1 - rho**2) * normal[:, 1]
    if skewed:
        for j in range(features):
            normal[:, j] = _MARGINALS[j % len(_MARGINALS)](normal[:, j])
    return normal


def stream(
    seed: int, features: int, events: int, skewed: bool, onset: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """The reference and the monitored events; the pair flips at ``onset`` (if any)."""
    rng = np.random.default_rng(seed)
    reference = draw(rng, REFERENCE_EVENTS, features, 0.8, skewed)
    stop = events if onset is None else onset
    before = draw(rng, stop, features, 0.8, skewed)
    after = draw(rng, events - stop, features, -0.8, skewed)
    return reference, np.vstack([before, after])


def replay(
    reference: np.ndarray | None, values: np.ndarray, settings: MonitorSettings | None = None
) -> list[Alert]:
    """Firing alerts of the events after a reference built from ``reference`` (None: from
    the first ``reference.warmup_events``)."""
    settings = settings or MonitorSettings()
    names = [f"x{j:02d}" for j in range(values.shape[1])]
    profiles = []
    if reference is not None:
        builder = ProfileBuilder("m", "1", settings.reference)
        for row in reference.tolist():
            builder.add(dict(zip(names, row, strict=True)))
        profiles.append(builder.build())
    monitor = Monitor(settings, ReferenceSet(profiles))
    alerts = []
    rows = values.tolist()
    for start in range(0, len(rows), BATCH):
        events = [
            WirePrediction(str(i), "m", float(i), dict(zip(names, rows[i], strict=True)))
            for i in range(start, min(start + BATCH, len(rows)))
        ]
        alerts += monitor.process_predictions(events).alerts
    return [a for a in alerts if a.status == AlertStatus.FIRING]


def is_joint(alert: Alert) -> bool:
    return alert.kind == AlertKind.MULTIVARIATE_DRIFT and alert.statistic == "reconstruction_error"


def delay(alerts: list[Alert]) -> int | None:
    """Events from the onset to the end of the first window that fired joint drift."""
    fired = [round(a.window.end.timestamp()) for a in alerts if is_joint(a)]
    return fired[0] + 1 - ONSET if fired else None


@pytest.mark.parametrize(("seed", "features", "skewed"), [(1, 10, False), (2, 25, True)])
def test_a_flipped_correlation_is_alerted_and_no_feature_drifts(
    seed: int, features: int, skewed: bool
) -> None:
    reference, values = stream(seed, features, ONSET + BUDGET + 1_000, skewed, ONSET)
    alerts = replay(reference, values)
    found = delay(alerts)
    assert found is not None, "the flip was never alerted"
    assert 0 < found <= BUDGET
    assert all(a.window.end.timestamp() >= ONSET for a in alerts if is_joint(a))
    first = next(a for a in alerts if is_joint(a))
    assert sorted(first.details["contributors"][:2]) == ["x00", "x01"]
    assert [a for a in alerts if a.kind == AlertKind.FEATURE_DRIFT] == []


@pytest.mark.parametrize(("seed", "features", "skewed"), [(3, 15, False), (4, 20, True)])
def test_stationary_streams_stay_quiet(seed: int, features: int, skewed: bool) -> None:
    reference, values = stream(seed, features, 40_000, skewed, None)
    assert replay(reference, values) == []


def main(seeds: int) -> None:  # pragma: no cover - prints the figures of the report
    delays = []
    for seed in range(seeds):
        features, skewed = 10 + seed % 16, seed % 2 == 1
        reference, values = stream(100 + seed, features, ONSET + BUDGET + 1_000, skewed, ONSET)
        alerts = replay(reference, values)
        delays.append(delay(alerts))
        drifted = sum(a.kind == AlertKind.FEATURE_DRIFT for a in alerts)
        print(
            f"flip seed {100 + seed} d={features} skewed={skewed}: delay {delays[-1]}, "
            f"feature_drift alerts {drifted}",
            flush=True,
        )
    events = false = 0
    for seed in range(seeds):
        features, skewed = 10 + (seed * 7) % 16, seed % 2 == 0
        reference, values = stream(200 + seed, features, 200_000, skewed, None)
        alerts = replay(reference if seed % 3 else None, values)
        joint = sum(map(is_joint, alerts))
        events += len(values)
        false += joint
        print(
            f"stationary seed {200 + seed} d={features} skewed={skewed} "
            f"warm-up reference={seed % 3 == 0}: {joint} joint "
            f"alerts, {len(alerts) - joint} others in {len(values)} events",
            flush=True,
        )
    print(f"delays {delays}; joint false alarms per 1,000,000 events: {false / events * 1e6:.2f}")


if __name__ == "__main__":  # pragma: no cover
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
