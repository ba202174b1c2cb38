"""The wire formats of driftline: events services send and alerts the monitor publishes.

Pydantic v2 models are the contract (and the JSON Schema, see :func:`json_schemas`);
:mod:`schemas.wire` decodes the same formats fast for the monitor's hot path.
:mod:`schemas.connection` is the Kafka connection (brokers, SASL, TLS) that every client,
in the monitor and in the producers, is made with.
"""

from schemas.alerts import (
    DEGRADATION_KINDS,
    Alert,
    AlertKind,
    AlertReference,
    AlertStatus,
    AlertWindow,
    Severity,
)
from schemas.events import LabelEvent, MetricEvent, PredictionEvent
from schemas.json_schema import json_schemas

__all__ = [
    "DEGRADATION_KINDS",
    "Alert",
    "AlertKind",
    "AlertReference",
    "AlertStatus",
    "AlertWindow",
    "LabelEvent",
    "MetricEvent",
    "PredictionEvent",
    "Severity",
    "json_schemas",
]
