"""Size limits that protect the monitor from oversized or hostile events.

Every event is checked against these limits before it reaches the statistics; an event
over a limit goes to the dead-letter topic with the reason. They are deliberately
generous for real models and small enough that one bad producer cannot exhaust memory.
"""

from typing import Final

__all__ = [
    "MAX_CATEGORY_LENGTH",
    "MAX_EPOCH_SECONDS",
    "MAX_EVENT_BYTES",
    "MAX_EVENT_ID_LENGTH",
    "MAX_FEATURES",
    "MAX_MODEL_LENGTH",
    "MAX_NAME_LENGTH",
    "MAX_PREDICTION_CLASSES",
    "MAX_TAGS",
    "MODEL_PATTERN",
]

MAX_EVENT_BYTES: Final = 1_048_576
"""Largest accepted message or JSON line, in bytes (1 MiB)."""

MAX_FEATURES: Final = 1_000
"""Most features in one PredictionEvent."""

MAX_NAME_LENGTH: Final = 128
"""Longest feature, class, metric or tag name."""

MAX_CATEGORY_LENGTH: Final = 1_024
"""Longest string value of a categorical feature, prediction or label."""

MAX_EVENT_ID_LENGTH: Final = 128
"""Longest event id."""

MAX_MODEL_LENGTH: Final = 128
"""Longest model name (and model version)."""

MODEL_PATTERN: Final = r"^[A-Za-z0-9._-]{1,128}$"
"""Characters allowed in a model name: they become Kafka keys and file names."""

MAX_EPOCH_SECONDS: Final = 253_402_300_799.0
"""Latest event time given as epoch seconds (9999-12-31T23:59:59Z); the earliest is 0."""

MAX_PREDICTION_CLASSES: Final = 1_000
"""Most classes in a probability prediction (``{"class": probability}``)."""

MAX_TAGS: Final = 64
"""Most tags on one MetricEvent."""
