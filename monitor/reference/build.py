"""Build reference profiles from raw reference data: events, CSV rows, a live prefix, or
columns (arrays, DataFrames).

The same builder serves ``driftline reference build``, ``replay --reference`` with a raw
file, and models that arrive without a reference (their first events become it).
"""

import math
import random
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from itertools import chain
from typing import Any

import numpy as np

from monitor.reference.profile import PerformanceBaseline, ReferenceProfile, ReferenceSet
from monitor.settings import FeatureOverrides, FeatureSettings, ReferenceSettings
from monitor.stats.calibration import Calibration
from monitor.stats.categorical import CategoricalBins, CategoryKind, category_of
from monitor.stats.columns import (
    Column,
    ColumnLayout,
    ColumnSummary,
    column_floats,
    column_length,
    gather_rows,
    python_values,
    row_getter,
)
from monitor.stats.loss import Label, Prediction, predicted_class
from monitor.stats.numeric import NumericBins
from monitor.stats.reconstruction import Reconstruction

__all__ = ["PREDICTION", "ProfileBuilder", "build_reference_set", "profile_columns"]

PREDICTION = "prediction"
"""Name of the prediction's one column."""


class ProfileBuilder:
    """Collects reference rows of one model and version, then builds its profile.

    Past ``max_events`` rows it keeps a uniform sample (reservoir sampling, seeded), so the
    profile of a huge reference stays faithful and memory stays bounded. With
    ``max_features``, it keeps the first that many feature names and leaves out (and
    counts in ``ignored``) the values of any other. ``bins`` sets the quantile bins of
    numeric features by name (``reference.bins`` for the others).

    Examples
    --------
    >>> builder = ProfileBuilder("m", "1", ReferenceSettings(bins=4))
    >>> for i in range(100):
    ...     builder.add({"x": float(i), "c": "ab"[i % 2]}, prediction=i / 100, label=i >= 50)
    >>> profile = builder.build()
    >>> profile.id, profile.events, profile.features.layout.names
    ('m/1/ref-...', 100, ('x', 'c'))
    >>> profile.performance.metric, profile.performance.value
    ('accuracy', 1.0)
    >>> capped = ProfileBuilder("m", "1", ReferenceSettings(), max_features=2)
    >>> for i in range(3):
    ...     capped.add({"x": 1.0, f"id-{i}": 1.0})
    >>> capped.build().features.layout.names, capped.ignored
    (('id-0', 'x'), 2)
    """

    def __init__(
        self,
        model: str,
        model_version: str,
        settings: ReferenceSettings,
        max_features: int | None = None,
        bins: Mapping[str, int] | None = None,
    ) -> None:
        self.model = model
        self.model_version = model_version
        self.settings = settings
        self.max_features = max_features
        self.bins = bins or {}
        self.seen = 0
        self.ignored = 0  # values left out: their names were past max_features
        self._names: dict[str, None] = {}  # with max_features: the names kept, in order
        self._rows: list[tuple[Mapping[str, Any], Prediction, Label | None]] = []
        self._random = random.Random(0)

    def add(
        self, features: Mapping[str, Any], prediction: Prediction = None, label: Label | None = None
    ) -> None:
        """Add one reference event."""
        self.seen += 1
        if self.max_features is not None and not self._names.keys() >= features.keys():
            features = self._keep(features, self.max_features)
        row = (features, prediction, label)
        if len(self._rows) < self.settings.max_events:
            self._rows.append(row)
            return
        slot = self._random.randrange(self.seen)
        if slot < self.settings.max_events:
            self._rows[slot] = row

    def _keep(self, features: Mapping[str, Any], limit: int) -> Mapping[str, Any]:
        """``features`` with only the names kept, taking new ones while there is room."""
        names = self._names
        for name in features:
            if len(names) >= limit:
                break
            names.setdefault(name)
        kept = {name: value for name, value in features.items() if name in names}
        self.ignored += len(features) - len(kept)
        return kept

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state: the rows kept so far and the sampler's position."""
        version, internal, gauss = self._random.getstate()
        return {
            "seen": self.seen,
            "names": list(self._names),
            "ignored": self.ignored,
            "rows": [
                [dict(features), prediction, label] for features, prediction, label in self._rows
            ],
            "random": [version, list(internal), gauss],
        }

    @classmethod
    def from_dict(
        cls,
        model: str,
        model_version: str,
        settings: ReferenceSettings,
        data: dict[str, Any],
        max_features: int | None = None,
        bins: Mapping[str, int] | None = None,
    ) -> "ProfileBuilder":
        """Inverse of :meth:`to_dict`."""
        builder = cls(model, model_version, settings, max_features, bins)
        builder.seen = data["seen"]
        names = data.get("names")  # absent from checkpoints older than max_features
        if names is None:
            names = chain.from_iterable(row[0] for row in data["rows"])
        builder._names = dict.fromkeys(names)
        builder.ignored = data.get("ignored", 0)
        builder._rows = [
            (features, prediction, label) for features, prediction, label in data["rows"]
        ]
        version, internal, gauss = data["random"]
        builder._random.setstate((version, tuple(internal), gauss))
        return builder

    def build(self) -> ReferenceProfile:
        """The profile of everything added so far."""
        rows = [row[0] for row in self._rows]
        names = tuple(sorted(set().union(*rows)))
        # one C-level call per row, then a transpose into columns
        gathered = gather_rows(rows, row_getter(names), names)
        features = dict(zip(names, zip(*gathered, strict=True), strict=True)) if rows else {}
        return _profile(
            self.model,
            self.model_version,
            features,
            [row[1] for row in self._rows],
            [row[2] for row in self._rows],
            self.seen,
            self.settings,
            self.bins,
        )


def profile_columns(
    model: str,
    model_version: str,
    features: Mapping[str, Column],
    settings: ReferenceSettings,
    predictions: Sequence[Prediction] | None = None,
    labels: Sequence[Label | None] | None = None,
    bins: Mapping[str, int] | None = None,
) -> ReferenceProfile:
    """The profile of reference data given column by column, as a DataFrame holds it.

    ``features`` maps each name to its values (lists, numpy arrays, pandas Series: NaN
    or None = missing). Past ``settings.max_events`` rows, a seeded uniform sample of
    rows is profiled, as :class:`ProfileBuilder` does. ``bins`` sets the quantile bins
    of numeric features by name.

    >>> profile = profile_columns(
    ...     "m", "1", {"x": np.arange(100.0), "c": ["a", "b"] * 50}, ReferenceSettings(bins=4)
    ... )
    >>> profile.events, profile.features.layout.numeric.names, profile.features.numeric.counts
    (100, ('x',), array([[25, 25, 25, 25]]))
    """
    events = column_length(features)
    for name, given in (("predictions", predictions), ("labels", labels)):
        if given is not None and len(given) != events:
            raise ValueError(f"{len(given)} {name} for {events} rows of features")
    if events > settings.max_events:
        rng = np.random.default_rng(0)
        kept = np.sort(rng.choice(events, settings.max_events, replace=False)).tolist()
        features = {name: _take(values, kept) for name, values in features.items()}
        predictions = None if predictions is None else [predictions[i] for i in kept]
        labels = None if labels is None else [labels[i] for i in kept]
    return _profile(model, model_version, features, predictions, labels, events, settings, bins)


def _take(values: Column, positions: list[int]) -> Column:
    if isinstance(values, Sequence):
        return [values[i] for i in positions]
    taken: Column = np.asarray(values)[positions]
    return taken


def _profile(
    model: str,
    model_version: str,
    features: Mapping[str, Column],
    predictions: Sequence[Prediction] | None,
    labels: Sequence[Label | None] | None,
    events: int,
    settings: ReferenceSettings,
    bins: Mapping[str, int] | None = None,
) -> ReferenceProfile:
    feature_summary, numeric = _summarize(features, settings, bins or {})
    # TODO(features): leave features configured as ignored out of the PCA (their columns)
    joint = Reconstruction.fit(
        feature_summary.layout.numeric.names, numeric, settings.joint_variance
    )
    prediction_summary = performance = calibration = None
    if predictions is not None and any(p is not None for p in predictions):
        values = [predicted_class(p) if isinstance(p, dict) else p for p in predictions]
        prediction_summary = _summarize({PREDICTION: values}, settings, {})[0]
        if labels is not None:
            pairs = zip(predictions, labels, strict=True)
            labelled = [(p, lab) for p, lab in pairs if lab is not None]
            performance = _performance(labelled)
            calibration = _calibration(labelled)
    content = {
        "features": feature_summary.to_dict(),
        "layout": feature_summary.layout.to_dict(),
        "prediction": None if prediction_summary is None else prediction_summary.to_dict(),
        "performance": None if performance is None else vars(performance),
        "events": events,
    }
    if calibration is not None:  # only then: the ids of other profiles stay as they were
        content["calibration"] = calibration.to_dict()
    if joint is not None:  # likewise
        content["joint"] = joint.to_dict()
    return ReferenceProfile(
        id=ReferenceProfile.make_id(model, model_version, content),
        model=model,
        model_version=model_version,
        events=events,
        features=feature_summary,
        prediction=prediction_summary,
        performance=performance,
        calibration=calibration,
        joint=joint,
    )


def _kind(values: Column) -> str:
    """``numeric``, ``string`` or ``boolean``: the most common type among present values.

    >>> _kind([1.0, "a", None, 2]), _kind([True, "a", False]), _kind([None])
    ('numeric', 'boolean', 'numeric')
    >>> nan = float("nan")
    >>> _kind(np.array(["a", "b"])), _kind(np.array(["a", nan, nan], dtype=object))
    ('string', 'string')
    """
    if not isinstance(values, Sequence):
        array = np.asarray(values)
        if array.dtype.kind in _ARRAY_KINDS:
            return _ARRAY_KINDS[array.dtype.kind]
        values = python_values(array)
    kinds: Counter[str] = Counter()
    types = Counter(map(type, values))  # types counted in C
    if float in types and len(types.keys() - {float, int, type(None)}):
        # NaN marks missing values in DataFrames: not numbers in a column of strings
        types[float] -= sum(map(math.isnan, (v for v in values if type(v) is float)))
    for kind, count in types.items():
        if kind is not type(None):
            kinds[_KINDS.get(kind) or _kind_of_type(kind)] += count
    if not +kinds:
        return "numeric"
    return max(("numeric", "string", "boolean"), key=lambda k: kinds[k])


_KINDS = {float: "numeric", int: "numeric", str: "string", bool: "boolean"}
_ARRAY_KINDS = {"f": "numeric", "i": "numeric", "u": "numeric", "b": "boolean", "U": "string"}


def _kind_of_type(kind: type) -> str:
    return "boolean" if issubclass(kind, bool) else "string" if issubclass(kind, str) else "numeric"


def _summarize(
    columns: Mapping[str, Column], settings: ReferenceSettings, bins: Mapping[str, int]
) -> tuple[ColumnSummary, np.ndarray]:
    """The columns' summary, and the numeric ones as a rows x columns float array."""
    names = sorted(columns)
    rows = column_length(columns)
    kinds = {name: _kind(columns[name]) for name in names}
    numeric = tuple(n for n in names if kinds[n] == "numeric")
    categorical = tuple(n for n in names if kinds[n] != "numeric")
    values = np.empty((rows, len(numeric)), order="F")  # column-major: columns contiguous
    mismatched = np.zeros(len(numeric), dtype=np.int64)
    for j, name in enumerate(numeric):
        values[:, j], mismatched[j] = column_floats(columns[name])
    widths = [bins.get(name, settings.bins) for name in numeric]
    numeric_bins = NumericBins.from_quantiles(list(numeric), values, widths, settings.resolution)
    counted = []  # per column, (value, count), counted by type and value: True is not 1
    categories = []
    for name in categorical:
        column = python_values(columns[name])
        typed = Counter(zip(map(type, column), column, strict=True))
        counted.append([(value, count) for (_, value), count in typed.items()])
        counts: Counter[str | None] = Counter()
        for value, count in counted[-1]:  # distinct values, then their categories
            counts[category_of(value)] += count
        counts.pop(None, None)
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        categories.append(tuple(c for c, _ in ranked[: settings.max_categories] if c is not None))
    category_kinds: tuple[CategoryKind, ...] = tuple(
        "boolean" if kinds[n] == "boolean" else "string" for n in categorical
    )
    layout = ColumnLayout(
        numeric_bins, CategoricalBins(categorical, tuple(categories), category_kinds)
    )
    summary = ColumnSummary(layout)  # from the columns above: the rows are read once
    summary.numeric.update(values, mismatched if mismatched.any() else None)
    for j, pairs in enumerate(counted):
        summary.categorical.add_counted(j, pairs)
    return summary, values


def _performance(pairs: list[tuple[Prediction, Label]]) -> PerformanceBaseline | None:
    if not pairs:
        return None
    predictions, labels = zip(*pairs, strict=True)
    return PerformanceBaseline.from_labels(predictions, labels)


def _calibration(pairs: list[tuple[Prediction, Label]]) -> Calibration | None:
    """The scores' calibration, when every labelled prediction is a score in [0, 1] with a
    boolean or 0/1 label, and both classes occur."""
    if not pairs or not all(isinstance(lab, bool) or lab in (0, 1) for _, lab in pairs):
        return None
    scores, mismatched = column_floats([p for p, _ in pairs])
    if mismatched or not np.all((scores >= 0.0) & (scores <= 1.0)):  # NaN: a missing score
        return None
    labels = np.array([bool(lab) for _, lab in pairs])
    if labels.all() or not labels.any():
        return None
    return Calibration.fit(scores, labels)


def build_reference_set(
    events: Iterable[tuple[str, str, Mapping[str, Any], Prediction, Label | None]],
    settings: ReferenceSettings,
    features: Mapping[str, Mapping[str, FeatureSettings]] | None = None,
) -> ReferenceSet:
    """Profiles of every model and version in ``(model, version, features, prediction,
    label)`` rows, with the bins ``features`` (the ``[features]`` settings) set."""
    builders: dict[tuple[str, str], ProfileBuilder] = {}
    for model, version, values, prediction, label in events:
        builder = builders.get((model, version))
        if builder is None:
            bins = FeatureOverrides.resolve(features or {}, model).bins
            builder = ProfileBuilder(model, version, settings, bins=bins)
            builders[(model, version)] = builder
        builder.add(values, prediction, label)
    return ReferenceSet([b.build() for b in builders.values()])
