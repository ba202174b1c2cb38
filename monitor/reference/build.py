"""Build reference profiles from raw reference data: events, CSV rows, or a live prefix.

The same builder serves ``driftline reference build``, ``replay --reference`` with a raw
file, and models that arrive without a reference (their first events become it).
"""

import random
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from monitor.performance.loss import Label, Prediction, Task, infer_task, loss, predicted_class
from monitor.reference.profile import PerformanceBaseline, ReferenceProfile, ReferenceSet
from monitor.settings import ReferenceSettings
from monitor.stats.categorical import CategoricalBins, CategoryKind, category_of
from monitor.stats.columns import ColumnLayout, ColumnSummary, gather_rows, row_getter, to_floats
from monitor.stats.numeric import NumericBins

__all__ = ["PREDICTION", "ProfileBuilder", "build_reference_set"]

PREDICTION = "prediction"
"""Name of the prediction's one column."""


class ProfileBuilder:
    """Collects reference rows of one model and version, then builds its profile.

    Past ``max_events`` rows it keeps a uniform sample (reservoir sampling, seeded), so the
    profile of a huge reference stays faithful and memory stays bounded.

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
    """

    def __init__(self, model: str, model_version: str, settings: ReferenceSettings) -> None:
        self.model = model
        self.model_version = model_version
        self.settings = settings
        self.seen = 0
        self._rows: list[tuple[Mapping[str, Any], Prediction, Label | None]] = []
        self._random = random.Random(0)

    def add(
        self, features: Mapping[str, Any], prediction: Prediction = None, label: Label | None = None
    ) -> None:
        """Add one reference event."""
        self.seen += 1
        row = (features, prediction, label)
        if len(self._rows) < self.settings.max_events:
            self._rows.append(row)
            return
        slot = self._random.randrange(self.seen)
        if slot < self.settings.max_events:
            self._rows[slot] = row

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state: the rows kept so far and the sampler's position."""
        version, internal, gauss = self._random.getstate()
        return {
            "seen": self.seen,
            "rows": [
                [dict(features), prediction, label] for features, prediction, label in self._rows
            ],
            "random": [version, list(internal), gauss],
        }

    @classmethod
    def from_dict(
        cls, model: str, model_version: str, settings: ReferenceSettings, data: dict[str, Any]
    ) -> "ProfileBuilder":
        """Inverse of :meth:`to_dict`."""
        builder = cls(model, model_version, settings)
        builder.seen = data["seen"]
        builder._rows = [
            (features, prediction, label) for features, prediction, label in data["rows"]
        ]
        version, internal, gauss = data["random"]
        builder._random.setstate((version, tuple(internal), gauss))
        return builder

    def build(self) -> ReferenceProfile:
        """The profile of everything added so far."""
        features = [row[0] for row in self._rows]
        predictions = [row[1] for row in self._rows]
        names = sorted(set().union(*features))
        feature_summary = _summarize(features, names, self.settings)
        prediction_summary = None
        if any(p is not None for p in predictions):
            values = [predicted_class(p) if isinstance(p, dict) else p for p in predictions]
            rows = [{PREDICTION: v} for v in values]
            prediction_summary = _summarize(rows, [PREDICTION], self.settings)
        performance = _performance([(p, lab) for _, p, lab in self._rows if lab is not None])
        content = {
            "features": feature_summary.to_dict(),
            "layout": feature_summary.layout.to_dict(),
            "prediction": None if prediction_summary is None else prediction_summary.to_dict(),
            "performance": None if performance is None else vars(performance),
            "events": self.seen,
        }
        return ReferenceProfile(
            id=ReferenceProfile.make_id(self.model, self.model_version, content),
            model=self.model,
            model_version=self.model_version,
            events=self.seen,
            features=feature_summary,
            prediction=prediction_summary,
            performance=performance,
        )


def _kind(values: Iterable[Any]) -> str:
    """``numeric``, ``string`` or ``boolean``: the most common type among present values.

    >>> _kind([1.0, "a", None, 2]), _kind([True, "a", False]), _kind([None])
    ('numeric', 'boolean', 'numeric')
    """
    kinds: Counter[str] = Counter()
    for kind, count in Counter(map(type, values)).items():  # types counted in C
        if kind is not type(None):
            kinds[_KINDS.get(kind) or _kind_of_type(kind)] += count
    if not kinds:
        return "numeric"
    return max(("numeric", "string", "boolean"), key=lambda k: kinds[k])


_KINDS = {float: "numeric", int: "numeric", str: "string", bool: "boolean"}


def _kind_of_type(kind: type) -> str:
    return "boolean" if issubclass(kind, bool) else "string" if issubclass(kind, str) else "numeric"


def _summarize(
    rows: Sequence[Mapping[str, Any]], names: list[str], settings: ReferenceSettings
) -> ColumnSummary:
    # one C-level call per row, then a transpose (as ColumnSummary.update_rows does)
    gathered = gather_rows(rows, row_getter(tuple(names)), tuple(names))
    columns = dict(zip(names, zip(*gathered, strict=True), strict=True)) if rows else {}
    columns = {name: columns.get(name, ()) for name in names}
    kinds = {name: _kind(values) for name, values in columns.items()}
    numeric = tuple(n for n in names if kinds[n] == "numeric")
    categorical = tuple(n for n in names if kinds[n] != "numeric")
    values, mismatched = to_floats([columns[name] for name in numeric], len(rows))
    numeric_bins = NumericBins.from_quantiles(list(numeric), values, settings.bins)
    categories = []
    for name in categorical:
        counts: Counter[str | None] = Counter()
        column = columns[name]
        typed = Counter(zip(map(type, column), column, strict=True))  # True is not 1
        for (_, value), count in typed.items():  # distinct values, then their categories
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
    summary.numeric.update(values, mismatched)
    if categorical:
        summary.categorical.update([columns[name] for name in categorical])
    return summary


def _performance(pairs: list[tuple[Prediction, Label]]) -> PerformanceBaseline | None:
    if not pairs:
        return None
    task: Task = Counter(infer_task(p, lab) for p, lab in pairs).most_common(1)[0][0]
    losses = np.array([x for p, lab in pairs if (x := loss(p, lab, task)) is not None])
    if losses.size == 0:
        return None
    return PerformanceBaseline(task, float(losses.mean()), float(losses.var()), int(losses.size))


def build_reference_set(
    events: Iterable[tuple[str, str, Mapping[str, Any], Prediction, Label | None]],
    settings: ReferenceSettings,
) -> ReferenceSet:
    """Profiles of every model and version in ``(model, version, features, prediction,
    label)`` rows."""
    builders: dict[tuple[str, str], ProfileBuilder] = {}
    for model, version, features, prediction, label in events:
        builder = builders.get((model, version))
        if builder is None:
            builder = builders[(model, version)] = ProfileBuilder(model, version, settings)
        builder.add(features, prediction, label)
    return ReferenceSet([b.build() for b in builders.values()])
