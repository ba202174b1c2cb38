"""Fast decoders for the event formats, used on the monitor's hot path.

The pydantic models in :mod:`schemas.events` are the contract and the JSON Schema; decoding
them costs about 8 µs per 25-feature event. These msgspec structs accept and reject the
same documents (``tests/unit/test_schemas.py`` checks both against one corpus) at about a
third of that, which is what lets one core replay 100,000+ events a second.

A message or line holds one event object, or a JSON array of events (a batch).

The structs are not tracked by the garbage collector (``gc=False``): they hold only
decoded JSON and can never be part of a reference cycle, and tracking 100,000s of them
made collections, not decoding, the main cost of a replay (58,000 against 380,000 events
a second decoding a 200,000-event file).

Examples
--------
>>> events = decode_predictions(
...     b'[{"event_id": "a", "model": "m", "ts": 0, "features": {"x": 1}},'
...     b' {"event_id": "b", "model": "m", "ts": "1970-01-01T00:00:01Z", "features": {}}]'
... )
>>> [(e.event_id, event_seconds(e.ts)) for e in events]
[('a', 0.0), ('b', 1.0)]
"""

from datetime import datetime
from typing import Annotated, TypeVar

import msgspec

from schemas.limits import (
    MAX_CATEGORY_LENGTH,
    MAX_EPOCH_SECONDS,
    MAX_EVENT_ID_LENGTH,
    MAX_FEATURES,
    MAX_MODEL_LENGTH,
    MAX_NAME_LENGTH,
    MAX_PREDICTION_CLASSES,
    MAX_TAGS,
    MODEL_PATTERN,
)

__all__ = [
    "EventTime",
    "WireLabel",
    "WireMetric",
    "WirePrediction",
    "decode_label_lines",
    "decode_labels",
    "decode_metric_lines",
    "decode_metrics",
    "decode_prediction_lines",
    "decode_predictions",
    "event_seconds",
]

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_NAME_LENGTH)]
Category = Annotated[str, msgspec.Meta(max_length=MAX_CATEGORY_LENGTH)]
EventId = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_EVENT_ID_LENGTH)]
# Python's `$` also matches before a final newline; `\Z` does not (JSON Schema keeps `$`).
ModelName = Annotated[str, msgspec.Meta(pattern=MODEL_PATTERN.removesuffix("$") + r"\Z")]
# The structs' model is plain `str`, checked against ModelName by _Names once per distinct
# name: msgspec runs the pattern on every event, 5% of a replay.
ModelVersion = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_MODEL_LENGTH)]
EventTime = (
    Annotated[datetime, msgspec.Meta(tz=True)]
    | Annotated[float, msgspec.Meta(ge=0.0, le=MAX_EPOCH_SECONDS)]
)
# Feature names are plain `str` here, checked by _check_names: a constrained key type
# turns off msgspec's key cache, and 25 new key strings per event cost 17% of a replay.
Features = Annotated[
    dict[str, float | Category | bool | None], msgspec.Meta(max_length=MAX_FEATURES)
]
Probabilities = Annotated[
    dict[Name, float], msgspec.Meta(min_length=1, max_length=MAX_PREDICTION_CLASSES)
]


class WirePrediction(msgspec.Struct, forbid_unknown_fields=True, frozen=True, gc=False):
    """A decoded PredictionEvent (see :class:`schemas.events.PredictionEvent`)."""

    event_id: EventId
    model: str
    ts: EventTime
    features: Features
    model_version: ModelVersion = "unversioned"
    prediction: float | Category | Probabilities | None = None
    label: float | Category | bool | None = None


class WireLabel(msgspec.Struct, forbid_unknown_fields=True, frozen=True, gc=False):
    """A decoded LabelEvent."""

    event_id: EventId
    model: str
    ts: EventTime
    label: float | Category | bool


class WireMetric(msgspec.Struct, forbid_unknown_fields=True, frozen=True, gc=False):
    """A decoded MetricEvent."""

    model: str
    ts: EventTime
    name: Name
    value: float
    model_version: ModelVersion = "unversioned"
    tags: Annotated[dict[Name, Category], msgspec.Meta(max_length=MAX_TAGS)] = {}


AnyEvent = TypeVar("AnyEvent", WirePrediction, WireLabel, WireMetric)


def event_seconds(ts: datetime | float) -> float:
    """Event time as epoch seconds."""
    return ts.timestamp() if isinstance(ts, datetime) else ts


_one_prediction = msgspec.json.Decoder(WirePrediction)
_many_predictions = msgspec.json.Decoder(list[WirePrediction])
_one_label = msgspec.json.Decoder(WireLabel)
_many_labels = msgspec.json.Decoder(list[WireLabel])
_one_metric = msgspec.json.Decoder(WireMetric)
_many_metrics = msgspec.json.Decoder(list[WireMetric])


class _Names:
    """Model and feature names already checked (bounded: forgotten when too many)."""

    limit = 100_000

    def __init__(self) -> None:
        self.models: set[str] = set()
        self.features: set[str] = set()

    def check(self, events: list[AnyEvent]) -> list[AnyEvent]:
        """``events``, once their names are checked; else the ValidationError msgspec
        gives for the first bad name."""
        models = self.models
        for event in events:
            if event.model in models:
                continue
            try:
                msgspec.convert(event.model, ModelName)
            except msgspec.ValidationError as error:  # as decoding with ModelName says it
                raise msgspec.ValidationError(f"{error} - at `$.model`") from None
            if len(models) > self.limit:
                models.clear()
            models.add(event.model)
        return events

    def check_features(self, events: list[WirePrediction]) -> list[WirePrediction]:
        """:meth:`check`, and the length of every feature name."""
        known = self.features
        for event in self.check(events):
            if known.issuperset(event.features):
                continue
            for name in event.features:
                if not 1 <= len(name) <= MAX_NAME_LENGTH:
                    raise msgspec.ValidationError(
                        f"Expected feature name of length 1 to {MAX_NAME_LENGTH}, got "
                        f"{len(name)} - at `$.features[...]`"
                    )
            if len(known) > self.limit:
                known.clear()
            known.update(event.features)
        return events


_names = _Names()


def decode_prediction_lines(buffer: bytes) -> list[WirePrediction]:
    """Decode newline-delimited PredictionEvents, exactly one object per non-blank line."""
    return _names.check_features(_one_prediction.decode_lines(buffer))


def decode_label_lines(buffer: bytes) -> list[WireLabel]:
    """Decode newline-delimited LabelEvents."""
    return _names.check(_one_label.decode_lines(buffer))


def decode_metric_lines(buffer: bytes) -> list[WireMetric]:
    """Decode newline-delimited MetricEvents."""
    return _names.check(_one_metric.decode_lines(buffer))


def _is_batch(payload: bytes) -> bool:
    return payload.lstrip()[:1] == b"["


def decode_predictions(payload: bytes) -> list[WirePrediction]:
    """Decode one PredictionEvent or a JSON array of them.

    Raises ``msgspec.DecodeError`` (bad JSON) or ``msgspec.ValidationError`` (wrong
    shape), whose message names the offending path.
    """
    if _is_batch(payload):
        return _names.check_features(_many_predictions.decode(payload))
    return _names.check_features([_one_prediction.decode(payload)])


def decode_labels(payload: bytes) -> list[WireLabel]:
    """Decode one LabelEvent or a JSON array of them."""
    if _is_batch(payload):
        return _names.check(_many_labels.decode(payload))
    return _names.check([_one_label.decode(payload)])


def decode_metrics(payload: bytes) -> list[WireMetric]:
    """Decode one MetricEvent or a JSON array of them."""
    if _is_batch(payload):
        return _names.check(_many_metrics.decode(payload))
    return _names.check([_one_metric.decode(payload)])
