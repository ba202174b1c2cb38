"""Pydantic model of the per-window summaries on ``driftline.feature-stats``."""

from pydantic import BaseModel, ConfigDict, Field

from schemas.alerts import AlertReference, AlertWindow

__all__ = ["ColumnStats", "FeatureStats", "LimitCounts"]


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
    other: int | None = Field(
        None,
        description="Categorical columns: values outside the reference's categories, "
        "counted together as other.",
    )
    drifting: bool = False
    scores: dict[str, float] = Field(default_factory=dict, description="Test -> score.")


class LimitCounts(BaseModel):
    """What the caps of the ``limits`` settings left out of a model's monitoring."""

    model_config = ConfigDict(frozen=True)

    features_ignored: int = Field(
        0,
        description="Feature values in this window under names outside the reference "
        "(or past limits.max_features when the reference was built from the first events).",
    )
    versions_refused: int = Field(
        0,
        description="Events of this model dead-lettered by limits.max_versions, since its "
        "state began.",
    )
    metrics_refused: int = Field(
        0,
        description="MetricEvents of this model dead-lettered by limits.max_metrics, since "
        "its state began.",
    )


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
    limits: LimitCounts = Field(
        default_factory=LimitCounts, description="What the limits settings left out."
    )
