"""Synthetic models in production: seeded event streams with drift injected at known onsets.

Each :class:`SyntheticModel` has 25 features, a logistic score that depends on some of
them, and labels drawn from the true probability, delivered ``label_delay`` seconds
later. By default (``shapes="normal"``) the 20 numeric features are normal (each with its
own mean and scale) and the 5 categorical ones have 10 categories of 10% each. With
``shapes="varied"`` (:data:`VARIED_NUMERIC`, :data:`VARIED_CATEGORICAL`) the 19 numeric
features are normal, lognormal, Pareto, Poisson counts, rounded, bimodal or
zero-inflated, five categorical ones have Zipf-like shares with categories under 0.5%, a
boolean ``flag`` joins them, and a few features miss 1-5% of their values from the
start. :class:`Drift` changes the stream from a given event on. The demo, the tests'
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

The varied shapes, and a feature turning constant at its reference median:

>>> varied = SyntheticModel("m", shapes="varied", drifts=[Drift("constant", 500, ("num_03",))])
>>> events = varied.predictions(1000)
>>> len(events[0].features), sorted({type(v).__name__ for e in events for v in e.features.values()})
(25, ['NoneType', 'bool', 'float', 'str'])
>>> pareto = [e.features["num_05"] for e in events[:500]]
>>> bool(max(pareto) > 5 * np.median(pareto))  # a heavy tail
True
>>> {e.features["num_03"] for e in events[500:]} == {round(varied.medians[3], 4)}
True
"""

import heapq
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from schemas.wire import WirePrediction

if TYPE_CHECKING:
    from producers.producer import DriftlineProducer

__all__ = [
    "SCENARIOS",
    "VARIED_CATEGORICAL",
    "VARIED_NUMERIC",
    "Drift",
    "DriftKind",
    "Shape",
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
    "constant",
    "accuracy_drop",
]

START = datetime(2026, 11, 27, 10, 0, tzinfo=UTC).timestamp()
CATEGORIES = tuple(f"c{k}" for k in range(10))


@dataclass(frozen=True)
class Drift:
    """A change of the stream from event ``onset`` on (counted per model).

    ``magnitude`` means, by kind: ``mean_shift`` and ``linear`` — shift in standard
    deviations (``linear`` reaches it after ``duration`` events); ``variance`` — variance
    ratio; ``category_mix`` — the new share of the first category (``c0``, 10% before);
    ``missing_spike`` and ``new_category`` — share of values missing, or of the new
    category ``NEW``; ``accuracy_drop`` — share of labels flipped. ``constant`` (no
    magnitude) makes a numeric feature its reference median and a categorical one its
    most common category.

    On the varied shapes a mean shift adds ``magnitude`` reference standard deviations
    (Poisson counts: their rate grows by as much; zero-inflated: the non-zero values move,
    so that the mean moves by as much), and a variance ratio scales the values around
    their mean (normal, bimodal, rounded: rounded again) or around the bottom of their
    support (lognormal and zero-inflated: 0; Pareto: its minimum), so the support stays
    what it was and the variance is multiplied by ``magnitude``. Poisson counts turn
    negative binomial, of the same mean and ``magnitude`` times the variance (a ratio
    under 1 scales them around their mean, rounded and kept non-negative).
    """

    kind: DriftKind
    onset: int
    features: tuple[str, ...] = ()
    magnitude: float = 0.5
    duration: int = 20_000
    end: int | None = None
    """The first event back to normal (``None``: the drift lasts)."""

    def active(self, index: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """Which of the events at ``index`` the drift changes.

        >>> Drift("mean_shift", 2, end=4).active(np.arange(6))
        array([False, False,  True,  True, False, False])
        """
        after: npt.NDArray[np.bool_] = index >= self.onset
        return after if self.end is None else after & (index < self.end)


ShapeKind = Literal[
    "normal", "lognormal", "pareto", "poisson", "rounded", "bimodal", "zero_inflated"
]


@dataclass(frozen=True)
class Shape:
    """The distribution of one varied numeric feature.

    ``param`` is, by kind: ``lognormal`` — sigma of the log; ``pareto`` — tail index
    (minimum ``scale``); ``poisson`` — the rate; ``bimodal`` — the share of the upper mode
    (modes 4 ``scale`` apart); ``zero_inflated`` — the share of zeros (the others
    lognormal); ``normal`` and ``rounded`` (normal, rounded to integers) take none.
    ``missing`` is the share of values missing before any drift.

    >>> rng = np.random.default_rng(0)
    >>> Shape("poisson", 3.0).draw(rng, 5, 0.0, 1.0)
    array([2., 0., 7., 1., 4.])
    """

    kind: ShapeKind
    param: float = 0.0
    missing: float = 0.0

    def draw(
        self, rng: np.random.Generator, n: int, loc: float, scale: float
    ) -> npt.NDArray[np.float64]:
        """``n`` values (``loc`` moves only the shapes that can take any sign)."""
        if self.kind == "normal":
            return loc + scale * rng.normal(size=n)
        if self.kind == "rounded":
            return np.round(loc + scale * rng.normal(size=n))
        if self.kind == "lognormal":
            return scale * np.exp(self.param * rng.normal(size=n))
        if self.kind == "pareto":
            return scale * (1.0 + rng.pareto(self.param, size=n))
        if self.kind == "poisson":
            return rng.poisson(self.param, size=n).astype(np.float64)
        if self.kind == "bimodal":
            upper = rng.random(n) < self.param
            return loc + scale * (rng.normal(size=n) + np.where(upper, 2.0, -2.0))
        nonzero = rng.random(n) >= self.param
        return np.where(nonzero, scale * np.exp(rng.normal(size=n)), 0.0)

    def anchor(self, mean: float, scale: float) -> float:
        """The point a change of variance scales the values around (see :class:`Drift`)."""
        if self.kind in ("lognormal", "zero_inflated"):
            return 0.0
        return scale if self.kind == "pareto" else mean


VARIED_NUMERIC: tuple[Shape, ...] = (
    Shape("normal"),
    Shape("normal"),
    Shape("normal", missing=0.02),
    Shape("lognormal", 0.5),
    Shape("lognormal", 1.0, missing=0.01),
    Shape("pareto", 2.5),
    Shape("pareto", 3.5),
    Shape("poisson", 3.0),
    Shape("poisson", 20.0, missing=0.05),
    Shape("bimodal", 0.5),
    Shape("bimodal", 0.3),
    Shape("zero_inflated", 0.6),
    Shape("zero_inflated", 0.3, missing=0.03),
    Shape("rounded"),
    Shape("lognormal", 0.25),
    Shape("poisson", 1.0),
    Shape("normal"),
    Shape("bimodal", 0.5),
    Shape("normal", missing=0.03),
)
"""The shapes of ``num_00`` ... ``num_18`` with ``shapes="varied"``."""


def _zipf(count: int, exponent: float) -> tuple[float, ...]:
    shares = 1.0 / np.arange(1, count + 1) ** exponent
    return tuple((shares / shares.sum()).tolist())


VARIED_CATEGORICAL: tuple[tuple[tuple[str | bool, ...], tuple[float, ...], float], ...] = (
    (tuple(f"c{k}" for k in range(30)), _zipf(30, 1.5), 0.0),
    (tuple(f"c{k}" for k in range(50)), _zipf(50, 1.1), 0.0),
    (CATEGORIES, (0.1,) * 10, 0.0),
    (tuple(f"c{k}" for k in range(5)), (0.5, 0.3, 0.15, 0.047, 0.003), 0.02),
    (tuple(f"c{k}" for k in range(8)), _zipf(8, 2.0), 0.01),
    ((False, True), (0.7, 0.3), 0.0),
)
"""Per categorical feature with ``shapes="varied"`` (``cat_0`` ... ``cat_4``, then the
boolean ``flag``): its categories, their shares, and the share of values missing."""

Shapes = Literal["normal", "varied"]


@dataclass
class _Draw:
    """One batch of a model's stream: its columns (Python values, ``None`` = missing, in
    the order of the model's feature names), scores and labels."""

    index: npt.NDArray[np.int64]
    table: npt.NDArray[np.object_]
    score: npt.NDArray[np.float64]
    label: npt.NDArray[np.bool_]


class SyntheticModel:
    """A seeded model whose events and labels are generated in bulk with numpy.

    ``seed`` fixes the model (feature means and scales, weights); ``stream`` picks one
    draw of its data, so ``stream=1`` of the same seed is a clean reference sample.
    ``shapes`` picks the features: ``"normal"`` (the default) or ``"varied"`` (see the
    module's docstring). ``medians`` holds each numeric feature's reference median, and
    ``sds`` its standard deviation (of a large seeded draw for the varied shapes).
    """

    numeric: tuple[str, ...] = tuple(f"num_{j:02d}" for j in range(20))
    categorical: tuple[str, ...] = tuple(f"cat_{j}" for j in range(5))

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
        shapes: Shapes = "normal",
    ) -> None:
        self.name = name
        self.version = version
        self.seed = seed
        self.drifts = tuple(drifts)
        self.rate = rate
        self.label_delay = label_delay
        self.start = start
        self.shapes = shapes
        self._rng = np.random.default_rng([seed, stream])
        setup = np.random.default_rng(seed)
        if shapes == "varied":
            self.numeric = tuple(f"num_{j:02d}" for j in range(len(VARIED_NUMERIC)))
            self.categorical = (*(f"cat_{j}" for j in range(5)), "flag")
        self.means = setup.normal(0.0, 5.0, len(self.numeric)).round(2)
        self.scales = setup.uniform(0.5, 3.0, len(self.numeric)).round(2)
        self.weights = setup.normal(0.0, 1.0, len(self.numeric)) * (
            np.arange(len(self.numeric)) < 6
        )
        self.category_effect = setup.normal(0.0, 1.0, (len(self.categorical), len(CATEGORIES)))
        self.medians = self.means.copy()
        self.sds = self.scales.copy()
        if shapes == "varied":
            self._describe_varied(np.random.default_rng([seed, 1 << 20]))
        self.produced = 0

    def _describe_varied(self, rng: np.random.Generator) -> None:
        """Reference mean, median and sd of each varied shape, from a large draw."""
        sample = [
            shape.draw(rng, 200_000, loc, scale)
            for shape, loc, scale in zip(VARIED_NUMERIC, self.means, self.scales, strict=True)
        ]
        self.medians = np.array([np.median(x) for x in sample])
        self.sds = np.array([x.std() for x in sample])
        self._centres = np.array([x.mean() for x in sample])
        self.weights = np.zeros(len(self.numeric))
        scored = [0, 1, 3, 7, 9, 13]  # light-tailed features only: a Pareto would saturate it
        self.weights[scored] = rng.normal(0.0, 1.0, len(scored))
        missing = [shape.missing for shape in VARIED_NUMERIC]
        self._missing = np.array(missing + [share for _, _, share in VARIED_CATEGORICAL])

    @property
    def names(self) -> tuple[str, ...]:
        """Every feature name, numeric first."""
        return self.numeric + self.categorical

    def generate(self, n: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The next ``n`` PredictionEvents and their LabelEvents, as JSON-ready dicts."""
        draw = self._draw(n)
        ts = self.start + draw.index / self.rate
        names = self.names
        events, labels = [], []
        scores = draw.score.round(4).tolist()
        for i, row in enumerate(draw.table.tolist()):
            event_id = f"{self.name}-{self.version}-{draw.index[i]}"
            events.append(
                {
                    "event_id": event_id,
                    "model": self.name,
                    "model_version": self.version,
                    "ts": _rfc3339(ts[i]),
                    "features": dict(zip(names, row, strict=True)),
                    "prediction": scores[i],
                }
            )
            labels.append(
                {
                    "event_id": event_id,
                    "model": self.name,
                    "ts": _rfc3339(ts[i] + self.label_delay),
                    "label": bool(draw.label[i]),
                }
            )
        return events, labels

    def predictions(self, n: int) -> list[WirePrediction]:
        """The next ``n`` predictions as decoded events, in memory (times in epoch
        seconds, no labels): what an engine hands the core, without JSON in between."""
        draw = self._draw(n)
        ts = (self.start + draw.index / self.rate).tolist()
        names, model, version = self.names, self.name, self.version
        prefix = f"{model}-{version}-"
        return [
            WirePrediction(
                prefix + str(i), model, t, dict(zip(names, row, strict=True)), version, score
            )
            for i, t, row, score in zip(
                draw.index.tolist(),
                ts,
                draw.table.tolist(),
                draw.score.round(4).tolist(),
                strict=True,
            )
        ]

    def _draw(self, n: int) -> _Draw:
        index = np.arange(self.produced, self.produced + n)
        self.produced += n
        if self.shapes == "varied":
            return self._draw_varied(index)
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
        label = self._labels(index, score, rng)
        table = np.empty((n, len(self.names)), dtype=object)
        table[:, : len(self.numeric)] = values.round(4)
        names = np.array(CATEGORIES, dtype=object)
        table[:, len(self.numeric) :] = names[codes]
        self._mask(table, index, rng)
        return _Draw(index, table, score, label)

    def _draw_varied(self, index: npt.NDArray[np.int64]) -> _Draw:
        rng, n = self._rng, index.size
        columns = zip(VARIED_NUMERIC, self.means, self.scales, strict=True)
        x = np.column_stack([shape.draw(rng, n, loc, scale) for shape, loc, scale in columns])
        codes = np.column_stack(
            [rng.choice(len(shares), size=n, p=shares) for _, shares, _ in VARIED_CATEGORICAL]
        )
        # drawn before the drifts, which may draw values anew: the same values go missing
        absent = rng.random((n, len(self.names))) < self._missing
        for drift in self.drifts:
            self._apply_varied(drift, index, x, codes, rng)
        z = np.nan_to_num((x - self._centres) / self.sds)
        logit = 3.5 * (z @ self.weights) / np.sqrt(max((self.weights**2).sum(), 1e-9))
        effect = self.category_effect[:3, :]
        logit += effect[np.arange(3), np.minimum(codes[:, :3], effect.shape[1] - 1)].sum(axis=1)
        score = 1.0 / (1.0 + np.exp(-logit * 0.9))
        label = self._labels(index, score, rng)
        table = np.empty((n, len(self.names)), dtype=object)
        table[:, : len(self.numeric)] = x.round(4)
        for j, (categories, _, _) in enumerate(VARIED_CATEGORICAL):
            table[:, len(self.numeric) + j] = np.array(categories, dtype=object)[codes[:, j]]
        table[absent] = None
        self._mask(table, index, rng)
        return _Draw(index, table, score, label)

    def _apply_varied(
        self,
        drift: Drift,
        index: npt.NDArray[np.int64],
        x: npt.NDArray[np.float64],
        codes: npt.NDArray[np.int64],
        rng: np.random.Generator,
    ) -> None:
        """Change the values and category codes of a varied draw from ``drift.onset`` on."""
        after = drift.active(index)
        if not after.any():
            return
        for j in _columns(drift, self.numeric):
            shape, column = VARIED_NUMERIC[j], x[after, j]
            if drift.kind in ("mean_shift", "linear"):
                progress = np.clip((index[after] - drift.onset) / drift.duration, 0.0, 1.0)
                if drift.kind == "mean_shift":
                    progress = np.ones(column.size)
                shift = drift.magnitude * progress
                if shape.kind == "poisson":
                    rate = shape.param + shift * np.sqrt(shape.param)
                    column = rng.poisson(rate, size=column.size).astype(np.float64)
                elif shape.kind == "zero_inflated":
                    nonzero = column != 0.0
                    column[nonzero] += (shift * self.sds[j] / (1.0 - shape.param))[nonzero]
                else:
                    column = column + shift * self.sds[j]
            elif drift.kind == "variance" and shape.kind == "poisson" and drift.magnitude > 1:
                # overdispersed counts: negative binomial of the same mean, variance x ratio
                size = shape.param / (drift.magnitude - 1.0)
                drawn = rng.negative_binomial(size, size / (size + shape.param), column.size)
                column = drawn.astype(np.float64)
            elif drift.kind == "variance":
                anchor = shape.anchor(self._centres[j], self.scales[j])
                column = anchor + np.sqrt(drift.magnitude) * (column - anchor)
                if shape.kind in ("poisson", "rounded"):
                    column = np.round(column)
                if shape.kind == "poisson":
                    column = np.maximum(column, 0.0)
            elif drift.kind == "constant":
                column = np.full(column.size, self.medians[j])
            x[after, j] = column
        for j in _columns(drift, self.categorical):
            _, shares, _ = VARIED_CATEGORICAL[j]
            if drift.kind == "constant":
                codes[after, j] = 0
            elif drift.kind == "category_mix":
                rest = np.array(shares[1:]) * (1.0 - drift.magnitude) / (1.0 - shares[0])
                mixed = np.concatenate([[drift.magnitude], rest])
                codes[after, j] = rng.choice(len(shares), size=int(after.sum()), p=mixed)

    def _labels(
        self,
        index: npt.NDArray[np.int64],
        score: npt.NDArray[np.float64],
        rng: np.random.Generator,
    ) -> npt.NDArray[np.bool_]:
        label: npt.NDArray[np.bool_] = rng.random(index.size) < score
        for drift in self.drifts:
            if drift.kind == "accuracy_drop":
                flip = drift.active(index) & (rng.random(index.size) < drift.magnitude)
                label ^= flip
        return label

    def _mask(
        self, table: npt.NDArray[np.object_], index: npt.NDArray[np.int64], rng: np.random.Generator
    ) -> None:
        """Missing values and new categories of the drifts, in place."""
        missing: dict[int, npt.NDArray[np.bool_]] = {}
        novel: dict[int, npt.NDArray[np.bool_]] = {}
        names = self.names
        for drift in self.drifts:
            if drift.kind not in ("missing_spike", "new_category"):
                continue
            target = missing if drift.kind == "missing_spike" else novel
            for name in drift.features:
                mask = drift.active(index) & (rng.random(index.size) < drift.magnitude)
                if name in names:
                    column = names.index(name)
                    target[column] = target.get(column, np.zeros(index.size, dtype=bool)) | mask
        for column, mask in missing.items():
            table[mask, column] = None
        for column, mask in novel.items():
            table[mask, column] = "NEW"


def _columns(drift: Drift, names: tuple[str, ...]) -> npt.NDArray[np.intp]:
    """Positions in ``names`` of the features ``drift`` changes."""
    return np.array([names.index(f) for f in drift.features if f in names], dtype=np.intp)


def _apply_numeric(
    drift: Drift, index: npt.NDArray[np.int64], z: npt.NDArray[np.float64], names: tuple[str, ...]
) -> None:
    columns = _columns(drift, names)
    after = drift.active(index)
    if not columns.size or not after.any():
        return
    if drift.kind == "mean_shift":
        z[np.ix_(after, columns)] += drift.magnitude
    elif drift.kind == "variance":
        z[np.ix_(after, columns)] *= np.sqrt(drift.magnitude)
    elif drift.kind == "linear":
        progress = np.clip((index - drift.onset) / drift.duration, 0.0, 1.0) * after
        z[:, columns] += (drift.magnitude * progress)[:, None]
    elif drift.kind == "constant":
        z[np.ix_(after, columns)] = 0.0


def _apply_mix(
    drift: Drift,
    index: npt.NDArray[np.int64],
    codes: npt.NDArray[np.int64],
    names: tuple[str, ...],
    rng: np.random.Generator,
) -> None:
    columns = _columns(drift, names)
    after = drift.active(index)
    if drift.kind == "constant":
        codes[np.ix_(after, columns)] = 0
    if drift.kind != "category_mix":
        return
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
