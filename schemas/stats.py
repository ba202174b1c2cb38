"""Pydantic model of the per-window summaries on ``driftline.feature-stats``."""

from pydantic import BaseModel, ConfigDict, Field

from schemas.alerts import AlertReference, AlertWindow

__all__ = ["ColumnStats", "FeatureStats", "LabelJoinStats", "LimitCounts"]


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


class LabelJoinStats(BaseModel):
    """How one model's labels met its predictions, counted since the model's first event
    (a Kafka worker's checkpoints carry the counts over).

    Unmatched labels are ``labels_expired + labels_evicted``. When labels come, a rise of
    these or of the predictions dropped unlabelled shows a broken label pipeline (labels
    with the wrong event ids or model, or much later than ``performance.label_ttl``).

    >>> print(LabelJoinStats(labels_matched=950, labels_held=12, labels_expired=30,
    ...                      labels_evicted=8, predictions_evicted=40).summary())
    labels 950 matched, 12 held, 38 unmatched (30 expired, 8 evicted); predictions \
unlabelled 0 expired, 40 evicted
    """

    model_config = ConfigDict(frozen=True)

    labels_matched: int = Field(
        0, ge=0, description="LabelEvents joined to their prediction (inline labels aside)."
    )
    labels_held: int = Field(0, ge=0, description="Labels held now, their prediction not seen yet.")
    labels_expired: int = Field(
        0,
        ge=0,
        description="Held labels dropped after performance.early_label_ttl (or a second "
        "label for the same prediction).",
    )
    labels_evicted: int = Field(
        0,
        ge=0,
        description="Held labels dropped, the oldest first, past performance.max_early_labels.",
    )
    predictions_expired: int = Field(
        0, ge=0, description="Predictions dropped unlabelled after performance.label_ttl."
    )
    predictions_evicted: int = Field(
        0,
        ge=0,
        description="Predictions dropped unlabelled, the oldest first, past "
        "performance.max_pending (a cap shared by all models).",
    )

    def summary(self) -> str:
        """The counts in one line of text, for logs and terminals."""
        unmatched = self.labels_expired + self.labels_evicted
        return (
            f"labels {self.labels_matched:,} matched, {self.labels_held:,} held, "
            f"{unmatched:,} unmatched ({self.labels_expired:,} expired, "
            f"{self.labels_evicted:,} evicted); predictions unlabelled "
            f"{self.predictions_expired:,} expired, {self.predictions_evicted:,} evicted"
        )


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
    label_join: LabelJoinStats | None = Field(
        None,
        description="The model's label join (every version), as of the end of the "
        "micro-batch that closed the window.",
    )
    limits: LimitCounts = Field(
        default_factory=LimitCounts, description="What the limits settings left out."
    )
    estimated_performance: dict[str, float] = Field(
        default_factory=dict,
        description="Metric (accuracy, roc_auc) -> its label-free estimate on this window "
        "(CBPE), when the reference calibrated the model's scores.",
    )
