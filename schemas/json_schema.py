"""JSON Schema of every event, alert, dead letter and window summary, for any language."""

from typing import Any

from pydantic import BaseModel

from schemas.alerts import Alert
from schemas.dead_letter import DeadLetter
from schemas.events import LabelEvent, MetricEvent, PredictionEvent
from schemas.stats import FeatureStats

__all__ = ["SCHEMA_MODELS", "json_schemas"]

SCHEMA_MODELS: dict[str, type[BaseModel]] = {
    "PredictionEvent": PredictionEvent,
    "LabelEvent": LabelEvent,
    "MetricEvent": MetricEvent,
    "Alert": Alert,
    "DeadLetter": DeadLetter,
    "FeatureStats": FeatureStats,
}


def json_schemas() -> dict[str, Any]:
    """One JSON Schema document whose ``$defs`` hold every model of :data:`SCHEMA_MODELS`.

    Events for producers to validate with; alerts, dead letters and window summaries
    (``driftline.feature-stats``) for consumers.

    >>> sorted(json_schemas()["$defs"])[:4]
    ['Alert', 'AlertKind', 'AlertReference', 'AlertStatus']
    """
    defs: dict[str, Any] = {}
    for name, model in SCHEMA_MODELS.items():
        schema = model.model_json_schema(ref_template="#/$defs/{model}")
        defs.update(schema.pop("$defs", {}))
        defs[name] = schema
    for schema in defs.values():
        if "description" in schema:  # keep the summary, not the doctest examples
            schema["description"] = schema["description"].split("\n\n")[0]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "driftline events, alerts, dead letters and feature stats",
        "$defs": defs,
    }
