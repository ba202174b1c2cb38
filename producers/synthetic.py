"""Synthetic models in production: seeded event streams with drift injected at known onsets.

Each :class:`SyntheticModel` has 20 numeric features (normal, with its own mean and
scale) and 5 categorical ones (10 categories, 10% each), a logistic score that depends
on both, and labels drawn from the true probability, delivered ``label_delay`` seconds
later. :class:`Drift` changes the stream from a given event on. The demo, the tests'
detection-quality suite and the benchmarks all draw from here.

Examples
--------
>>> model = SyntheticModel("fraud-scorer", seed=1,
...                        drifts=[Drift("mean_shift", 100, ("num_00",), magnitude=2.0)])
>>> events, labels = model.generate(200)
>>> len(events), len(labels), sorted(events[0])
(200, 200, ['event_id', 'features', 'model', 'model_version', 'prediction', 'ts'])
>>> before = np.mean([e["features"]["num_00"] for e in events[:100]])
>>> after = np.mean([e["features"]["num_00"] for e in events[100:]])
>>> bool(after - before > 1.0 * model.scales[0])
True
"""

import heapq
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from producers.producer import DriftlineProducer

__all__ = [
    "SCENARIOS",
    "Drift",
    "DriftKind",
    "SyntheticModel",
    "interleave",
    "scenario_services",
    "send_prediction",
]

DriftKind = Literal[
    "mean_shift",
    "variance",
    "linear",
    "category_mix",
    "missing_spike",
    "new_category",
    "accuracy_drop",
]

START = datetime(2026, 11, 27, 10, 0, tzinfo=UTC).timestamp()
CATEGORIES = tuple(f"c{k}" for k in range(10))


@dataclass(frozen=True)
class Drift:
    """A change of the stream from event ``onset`` on (counted per model).

    ``magnitude`` means, by kind: ``mean_shift`` and ``linear`` — shift in standard
    deviations (``linear`` reaches it after ``duration`` events); ``variance`` — variance
    ratio; ``category_mix`` — the new share of category ``c0`` (10% before);
    ``missing_spike`` and ``new_category`` — share of values missing, or of the new
    category ``NEW``; ``accuracy_drop`` — share of labels flipped.
    """

    kind: DriftKind
    onset: int
    features: tuple[str, ...] = ()
    magnitude: float = 0.5
    duration: int = 20_000


class SyntheticModel:
    """A seeded model whose events and labels are generated in bulk with numpy.

    ``seed`` fixes the model (feature means and scales, weights); ``stream`` picks one
    draw of its data, so ``stream=1`` of the same seed is a clean reference sample.
    """

    numeric = tuple(f"num_{j:02d}" for j in range(20))
    categorical = tuple(f"cat_{j}" for j in range(5))

    def __init__(
        self,
        name: str,
        version: str = "1",
        drifts: Iterable[Drift] = (),
        seed: int = 0,
        stream: int = 0,
        rate: float = 10.0,
        label_delay: float = 600.0,
        start: float = START,
    ) -> None:
        self.name = name
        self.version = version
        self.seed = seed
        self.drifts = tuple(drifts)
        self.rate = rate
        self.label_delay = label_delay
        self.start = start
        self._rng = np.random.default_rng([seed, stream])
        setup = np.random.default_rng(seed)
        self.means = setup.normal(0.0, 5.0, len(self.numeric)).round(2)
        self.scales = setup.uniform(0.5, 3.0, len(self.numeric)).round(2)
        self.weights = setup.normal(0.0, 1.0, len(self.numeric)) * (
            np.arange(len(self.numeric)) < 6
        )
        self.category_effect = setup.normal(0.0, 1.0, (len(self.categorical), len(CATEGORIES)))
        self.produced = 0

    def generate(self, n: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The next ``n`` PredictionEvents and their LabelEvents, as JSON-ready dicts."""
        index = np.arange(self.produced, self.produced + n)
        self.produced += n
        rng = self._rng
        z = rng.normal(size=(n, len(self.numeric)))
        codes = rng.integers(0, len(CATEGORIES), size=(n, len(self.categorical)))
        for drift in self.drifts:
            _apply_numeric(drift, index, z, self.numeric)
            _apply_mix(drift, index, codes, self.categorical, rng)
        values = self.means + self.scales * z
        logit = 3.5 * (z @ self.weights) / np.sqrt(max((self.weights**2).sum(), 1e-9))
        logit += self.category_effect[np.arange(len(self.categorical)), codes].sum(axis=1) * 0.5
        score = 1.0 / (1.0 + np.exp(-logit))
        label = rng.random(n) < score
        for drift in self.drifts:
            if drift.kind == "accuracy_drop":
                flip = (index >= drift.onset) & (rng.random(n) < drift.magnitude)
                label ^= flip
        ts = self.start + index / self.rate
        rows = values.round(4).tolist()
        names = [CATEGORIES[c] for c in range(len(CATEGORIES))]
        missing, novel = self._masks(index, rng)
        events, labels = [], []
        for i in range(n):
            features: dict[str, Any] = dict(zip(self.numeric, rows[i], strict=True))
            for j, name in enumerate(self.categorical):
                features[name] = names[codes[i, j]]
            for name, mask in missing.items():
                if mask[i]:
                    features[name] = None
            for name, mask in novel.items():
                if mask[i]:
                    features[name] = "NEW"
            event_id = f"{self.name}-{self.version}-{index[i]}"
            events.append(
                {
                    "event_id": event_id,
                    "model": self.name,
                    "model_version": self.version,
                    "ts": _rfc3339(ts[i]),
                    "features": features,
                    "prediction": round(float(score[i]), 4),
                }
            )
            labels.append(
                {
                    "event_id": event_id,
                    "model": self.name,
                    "ts": _rfc3339(ts[i] + self.label_delay),
                    "label": bool(label[i]),
                }
            )
        return events, labels

    def _masks(
        self, index: npt.NDArray[np.int64], rng: np.random.Generator
    ) -> tuple[dict[str, npt.NDArray[np.bool_]], dict[str, npt.NDArray[np.bool_]]]:
        missing: dict[str, npt.NDArray[np.bool_]] = {}
        novel: dict[str, npt.NDArray[np.bool_]] = {}
        for drift in self.drifts:
            if drift.kind not in ("missing_spike", "new_category"):
                continue
            target = missing if drift.kind == "missing_spike" else novel
            for name in drift.features:
                mask = (index >= drift.onset) & (rng.random(index.size) < drift.magnitude)
                target[name] = target.get(name, np.zeros(index.size, dtype=bool)) | mask
        return missing, novel


def _columns(drift: Drift, names: tuple[str, ...]) -> npt.NDArray[np.intp]:
    """Positions in ``names`` of the features ``drift`` changes."""
    return np.array([names.index(f) for f in drift.features if f in names], dtype=np.intp)


def _apply_numeric(
    drift: Drift, index: npt.NDArray[np.int64], z: npt.NDArray[np.float64], names: tuple[str, ...]
) -> None:
    columns = _columns(drift, names)
    after = index >= drift.onset
    if not columns.size or not after.any():
        return
    if drift.kind == "mean_shift":
        z[np.ix_(after, columns)] += drift.magnitude
    elif drift.kind == "variance":
        z[np.ix_(after, columns)] *= np.sqrt(drift.magnitude)
    elif drift.kind == "linear":
        progress = np.clip((index - drift.onset) / drift.duration, 0.0, 1.0)
        z[:, columns] += (drift.magnitude * progress)[:, None]


def _apply_mix(
    drift: Drift,
    index: npt.NDArray[np.int64],
    codes: npt.NDArray[np.int64],
    names: tuple[str, ...],
    rng: np.random.Generator,
) -> None:
    if drift.kind != "category_mix":
        return
    columns = _columns(drift, names)
    after = index >= drift.onset
    others = (1.0 - drift.magnitude) / (len(CATEGORIES) - 1)
    shares = np.array([drift.magnitude] + [others] * (len(CATEGORIES) - 1))
    for j in columns:
        codes[after, j] = rng.choice(len(CATEGORIES), size=int(after.sum()), p=shares)


def _rfc3339(seconds: float) -> str:
    return (
        datetime.fromtimestamp(seconds, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def send_prediction(
    producer: "DriftlineProducer", event: dict[str, Any], ts: float | str | None = None
) -> str:
    """Queue a generated prediction ``event`` on ``producer``, at its own time or ``ts``."""
    return producer.send_prediction(
        event["model"],
        event["features"],
        event["prediction"],
        model_version=event["model_version"],
        event_id=event["event_id"],
        ts=event["ts"] if ts is None else ts,
    )


def interleave(streams: Iterable[list[dict[str, Any]]]) -> Iterator[dict[str, Any]]:
    """Merge per-model event lists (each in time order) into one stream by event time."""
    return heapq.merge(*streams, key=lambda event: event["ts"])


SCENARIOS = ("stationary", "covariate-shift", "label-drift")
"""The demo's services: one stays stationary, one's inputs shift (then a new category
appears), one's labels drift so its accuracy drops."""


def scenario_services(
    per_model: int,
    seed: int = 7,
    scenarios: Sequence[str] = SCENARIOS,
    *,
    start: float = START,
    rate: float = 10.0,
    label_delay: float = 60.0,
) -> list[SyntheticModel]:
    """A service per scenario, with drift onsets at 40% (and 70%) of ``per_model`` events.

    >>> [m.name for m in scenario_services(1000)]
    ['checkout-ranker', 'fraud-scorer', 'churn-predictor']
    """
    unknown = set(scenarios) - set(SCENARIOS)
    if unknown:
        raise ValueError(f"unknown scenarios {sorted(unknown)}; choose from {list(SCENARIOS)}")
    onset = int(per_model * 0.4)
    services = {
        "stationary": SyntheticModel(
            "checkout-ranker", "7", seed=seed, start=start, rate=rate, label_delay=label_delay
        ),
        "covariate-shift": SyntheticModel(
            "fraud-scorer",
            "3",
            seed=seed + 1,
            start=start,
            rate=rate,
            label_delay=label_delay,
            drifts=[
                Drift("mean_shift", onset, ("num_00", "num_01"), magnitude=0.8),
                Drift("new_category", int(per_model * 0.7), ("cat_0",), magnitude=0.3),
            ],
        ),
        "label-drift": SyntheticModel(
            "churn-predictor",
            "12",
            seed=seed + 2,
            start=start,
            rate=rate,
            label_delay=label_delay,
            drifts=[Drift("accuracy_drop", onset, magnitude=0.3)],
        ),
    }
    return [services[name] for name in SCENARIOS if name in scenarios]
