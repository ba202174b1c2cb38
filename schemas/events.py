"""Pydantic models of the events services send: predictions, labels and metrics.

These models are the public contract (docs/architecture.md, "Public contracts") and the
source of the JSON Schema that producers in any language validate against. The
monitor's hot path decodes the same format with :mod:`schemas.wire`, which a conformance
test (``tests/unit/test_schemas.py``) keeps in step with these.
"""

from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
)

from schemas import wire
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
    "FeatureValue",
    "LabelEvent",
    "LabelValue",
    "MetricEvent",
    "PredictionEvent",
    "PredictionValue",
    "to_datetime",
]

Name = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME_LENGTH)]
Category = Annotated[str, StringConstraints(max_length=MAX_CATEGORY_LENGTH)]
EventId = Annotated[str, StringConstraints(min_length=1, max_length=MAX_EVENT_ID_LENGTH)]
ModelName = Annotated[str, StringConstraints(pattern=MODEL_PATTERN)]
ModelVersion = Annotated[str, StringConstraints(min_length=1, max_length=MAX_MODEL_LENGTH)]

FeatureValue = float | Category | bool | None
"""A feature value: a number, a category, a flag, or null for missing."""

PredictionValue = (
    float
    | Category
    | Annotated[dict[Name, float], Field(min_length=1, max_length=MAX_PREDICTION_CLASSES)]
)
"""A score or regression output, a class, or class -> probability."""

LabelValue = float | Category | bool
"""The ground truth: a number, a class or a flag."""


def _event_time(value: Any) -> datetime:
    """Parse event time exactly as the monitor's decoder does (RFC 3339 with an offset, or
    epoch seconds from 0 to year 9999)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("event time needs a timezone offset")
        return value.astimezone(UTC)
    try:
        return to_datetime(msgspec.convert(value, wire.EventTime))
    except msgspec.ValidationError as error:
        raise ValueError(str(error)) from None


EventTime = Annotated[
    datetime,
    BeforeValidator(_event_time),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "date-time"},
                {"type": "number", "minimum": 0, "maximum": MAX_EPOCH_SECONDS},
            ],
            "description": "RFC 3339 string with an offset, or epoch seconds.",
        }
    ),
]
"""Event time as an RFC 3339 string with an offset, or epoch seconds."""


def to_datetime(ts: datetime | float) -> datetime:
    """Return *ts* as an aware UTC datetime.

    >>> to_datetime(0.0).isoformat()
    '1970-01-01T00:00:00+00:00'
    """
    if isinstance(ts, datetime):
        return ts.astimezone(UTC)
    return datetime.fromtimestamp(ts, UTC)


class _Event(BaseModel):
    # strict: no "12.5" for 12.5 nor true for 1, as the monitor's decoder (schemas.wire)
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class PredictionEvent(_Event):
    """One prediction made by a model in production.

    Examples
    --------
    >>> event = PredictionEvent.model_validate_json(
    ...     '{"event_id": "e1", "model": "fraud-scorer", "model_version": "3",'
    ...     ' "ts": "2026-11-27T10:00:00Z", "features": {"amount": 12.5, "country": "DE",'
    ...     ' "age": null, "is_new": true}, "prediction": 0.83}'
    ... )
    >>> event.features["amount"], event.ts.isoformat()
    (12.5, '2026-11-27T10:00:00+00:00')
    """

    event_id: EventId
    model: ModelName
    model_version: ModelVersion = "unversioned"
    ts: EventTime
    features: Annotated[dict[Name, FeatureValue], Field(max_length=MAX_FEATURES)]
    prediction: PredictionValue | None = None
    label: LabelValue | None = None


class LabelEvent(_Event):
    """The ground truth for an earlier prediction, joined to it by ``event_id``.

    >>> LabelEvent(event_id="e1", model="fraud-scorer", ts=0, label=True).label
    True
    """

    event_id: EventId
    model: ModelName
    ts: EventTime
    label: LabelValue


class MetricEvent(_Event):
    """A metric computed elsewhere: latency, a business KPI, an offline accuracy.

    >>> MetricEvent(model="fraud-scorer", ts=0, name="latency_ms", value=12.0).model_version
    'unversioned'
    """

    model: ModelName
    model_version: ModelVersion = "unversioned"
    ts: EventTime
    name: Name
    value: float
    tags: Annotated[dict[Name, Category], Field(max_length=MAX_TAGS)] = Field(default_factory=dict)
