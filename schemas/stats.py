"""Pydantic model of the per-window summaries on ``driftline.feature-stats``."""

from pydantic import BaseModel, ConfigDict, Field

from schemas.alerts import AlertReference, AlertWindow

__all__ = ["ColumnStats", "FeatureStats"]


class ColumnStats(BaseModel):
    """One column of one window: its values and its drift scores."""

    model_config = ConfigDict(frozen=True)

    kind: str = Field(description="numeric, string or boolean.")
    values: int = Field(description="Values present in the window.")
    missing_share: float
    mean: float | None = None
    std: float | None = None
    min: float | None = None
    max: float | None = None
    drifting: bool = False
    scores: dict[str, float] = Field(default_factory=dict, description="Test -> score.")


class FeatureStats(BaseModel):
    """The summary of one model's closed window, for consoles.

    >>> FeatureStats(model="m", model_version="1",
    ...              window={"start": 0, "end": 1, "events": 2},
    ...              reference={"id": "m/1/ref-x", "events": 10}).columns
    {}
    """

    model_config = ConfigDict(frozen=True)

    model: str
    model_version: str
    window: AlertWindow
    reference: AlertReference
    columns: dict[str, ColumnStats] = Field(
        default_factory=dict, description='Feature name (and "prediction") -> statistics.'
    )
