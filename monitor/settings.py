"""Settings of the monitor: defaults, a TOML file, and ``DRIFTLINE_*`` variables.

Precedence, highest first: keyword arguments, environment variables (nested with ``__``,
e.g. ``DRIFTLINE_WINDOW__SIZE=2000``), the TOML file given with ``--config``, defaults.
Every setting is documented once, here; the README's configuration reference is
generated from these descriptions (``python -m monitor.settings``).

>>> settings = MonitorSettings(window={"size": 2000, "hop": 500})
>>> settings.window.panes, settings.drift.thresholds["psi"]  # panes of 250 events
(8, 0.2)
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from monitor.errors import ConfigError
from schemas.alerts import Severity
from schemas.connection import KafkaConnection

__all__ = [
    "DriftSettings",
    "DriftTest",
    "EstimateSettings",
    "FeatureOverrides",
    "FeatureSettings",
    "JointSettings",
    "KafkaSettings",
    "LimitSettings",
    "MetricSettings",
    "MonitorSettings",
    "PerformanceSettings",
    "PolicySettings",
    "QualitySettings",
    "ReferenceSettings",
    "WindowSettings",
    "load_settings",
]

DriftTest = Literal["psi", "wasserstein", "jensen_shannon", "ks", "chi_square"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


DEFAULT_PANE = 250
"""Events per pane of count windows, when it divides the hop."""


class WindowSettings(_Section):
    """Hopping windows per model and version: ``size`` long, tested every ``hop``, built
    from panes of ``pane`` (each pane is also tested as it closes, for gross changes)."""

    kind: Literal["count", "time"] = Field(
        "count", description="`count`: size and hop in events; `time`: in event-time seconds."
    )
    size: float = Field(2000, gt=0, description="Window length (events or seconds).")
    hop: float = Field(500, gt=0, description="How often a window is tested; divides size.")
    pane: float | None = Field(
        None,
        gt=0,
        description="Pane length (events or seconds), dividing hop: each closed pane is "
        "checked for data quality and feeds the sequential tests. Unset: 250 events when "
        "that divides hop, else hop; for time windows, hop.",
    )
    min_events: int = Field(
        500, ge=1, description="A window with fewer events (time windows) is not tested."
    )

    @model_validator(mode="after")
    def _hop_divides_size(self) -> Self:
        for part, whole, names in (
            (self.hop, self.size, ("window.hop", "window.size")),
            (self.pane_length, self.hop, ("window.pane", "window.hop")),
        ):
            count = whole / part
            if part > whole or abs(count - round(count)) > 1e-9:
                raise ValueError(f"{names[0]} ({part}) must divide {names[1]} ({whole})")
        lengths = (self.size, self.hop, self.pane_length)
        if self.kind == "count" and any(v != int(v) for v in lengths):
            raise ValueError("count windows need whole numbers of events for size, hop and pane")
        return self

    @property
    def pane_length(self) -> float:
        """The pane's length: ``pane``, or its default."""
        if self.pane is not None:
            return self.pane
        if self.kind == "count" and self.hop % DEFAULT_PANE == 0:
            return DEFAULT_PANE
        return self.hop

    @property
    def panes(self) -> int:
        """Panes per window."""
        return round(self.size / self.pane_length)

    @property
    def panes_per_hop(self) -> int:
        """Panes between two window tests."""
        return round(self.hop / self.pane_length)


class DriftSettings(_Section):
    """Which two-sample tests run on each column, and their thresholds."""

    numeric_tests: list[DriftTest] = Field(
        ["wasserstein", "psi"],
        description="Tests on numeric features and scores; a column drifts if any fires.",
    )
    categorical_tests: list[DriftTest] = Field(
        ["jensen_shannon", "psi"],
        description="Tests on categorical and boolean features and predicted classes.",
    )
    thresholds: dict[DriftTest, float] = Field(
        {"psi": 0.2, "wasserstein": 0.1, "jensen_shannon": 0.07, "ks": 0.001, "chi_square": 0.001},
        description="Distance a test fires at (psi, wasserstein normalised by the reference "
        "std, jensen_shannon distance), or the p-value it fires below (ks, chi_square).",
    )
    null_z: float = Field(
        4.0,
        gt=0,
        description="A distance must also exceed its chance level: (mean + null_z std) ** 3 "
        "of its cube root between the reference and same-size windows drawn from it.",
    )
    critical_ratio: float = Field(
        2.0, gt=1, description="A distance this many times its threshold is `critical`."
    )
    min_values: int = Field(
        100, ge=1, description="A column with fewer present values in a window is not tested."
    )
    multivariate_share: float = Field(
        0.5, gt=0, le=1, description="Share of drifting features that raises multivariate_drift."
    )
    sequential: bool = Field(
        True,
        description="Sequential tests (CUSUM) of every numeric feature's location and scale, "
        "on normal scores of the reference's bins, pane by pane.",
    )
    cusum_k: float = Field(
        1.0,
        ge=0,
        description="Allowance of the sequential tests, in standard errors of a pane's score: "
        "a pane adds evidence only beyond it.",
    )
    cusum_h: float = Field(
        7.0,
        gt=0,
        description="Evidence (sum of a pane's standard errors past the allowance) at which "
        "a sequential test fires.",
    )
    pane_z: float = Field(
        5.5, gt=0, description="A single pane this many standard errors out fires at once."
    )
    resolve_z: float = Field(
        2.0,
        gt=0,
        description="An open episode on a distance holds while the distance is above its "
        "chance level at this z (or policy.resolve_band of its threshold, if higher).",
    )

    @model_validator(mode="after")
    def _known_thresholds(self) -> Self:
        missing = set(self.numeric_tests + self.categorical_tests) - set(self.thresholds)
        if missing:
            raise ValueError(f"drift.thresholds has no value for {sorted(missing)}")
        if "wasserstein" in self.categorical_tests:
            raise ValueError("wasserstein needs numbers: remove it from categorical_tests")
        return self


class JointSettings(_Section):
    """Joint drift: the mean PCA reconstruction error of a window against the reference's
    (PCA fitted at reference build, ``reference.joint_variance``)."""

    enabled: bool = Field(
        True, description="Test multivariate_drift on reconstruction_error (numeric features)."
    )
    z: float = Field(
        5.0, gt=0, description="The mean error must exceed the reference's by z standard errors."
    )
    min_change: float = Field(
        0.02,
        gt=0,
        description="It must also exceed it by this share of the reference's mean error.",
    )


class FeatureSettings(_Section):
    """Settings of one feature of one model, over those of its section (``[features]``).

    >>> FeatureSettings(tests=["ks"], thresholds={"ks": 0.01}, bins=50).bins
    50
    """

    tests: list[DriftTest] | None = Field(
        None, description="Drift tests of this feature, instead of its type's (drift.*_tests)."
    )
    thresholds: dict[DriftTest, float] = Field(
        {}, description="Thresholds of this feature's tests, over drift.thresholds."
    )
    bins: int | None = Field(
        None,
        ge=2,
        le=1000,
        description="Quantile bins of this numeric feature in references built with these "
        "settings, instead of reference.bins.",
    )
    severity: Severity | None = Field(
        None, description="Severity of every drift and quality alert on this feature."
    )
    sequential: bool | None = Field(
        None,
        description="Whether the sequential tests run on this numeric feature, instead of "
        "drift.sequential.",
    )
    ignore: bool = Field(
        False, description="Leave this feature out of drift, quality and multivariate findings."
    )


@dataclass(frozen=True)
class FeatureOverrides:
    """The ``[features]`` settings that apply to one model, by feature name.

    An entry under the model's own name wins over one under ``"*"`` in each field it sets
    (to other than its default).

    >>> settings = MonitorSettings(features={
    ...     "*": {"request_id": {"ignore": True}, "amount": {"bins": 50}},
    ...     "fraud-scorer": {"amount": {"severity": "critical"}},
    ... })
    >>> overrides = settings.overrides("fraud-scorer")
    >>> overrides.ignored, overrides.bins, overrides.get("amount").severity
    (frozenset({'request_id'}), {'amount': 50}, <Severity.CRITICAL: 'critical'>)
    >>> settings.overrides("churn").get("amount").severity is None
    True
    """

    model: str
    features: Mapping[str, FeatureSettings]

    @classmethod
    def resolve(
        cls, features: Mapping[str, Mapping[str, FeatureSettings]], model: str
    ) -> "FeatureOverrides":
        """The overrides of ``model`` in a ``[features]`` section."""
        common, own = features.get("*", {}), features.get(model, {})
        resolved = {}
        for name in common.keys() | own.keys():
            fields: dict[str, object] = {}
            for entry in (common.get(name), own.get(name)):
                if entry is not None:
                    fields |= entry.model_dump(exclude_defaults=True)
            resolved[name] = FeatureSettings.model_validate(fields)
        return cls(model, resolved)

    @classmethod
    def checked(
        cls,
        features: Mapping[str, FeatureSettings | Mapping[str, object]],
        drift: DriftSettings,
        model: str = "*",
    ) -> "FeatureOverrides":
        """``features`` (name to settings) validated, as one model's overrides.

        >>> FeatureOverrides.checked({"x": {"bins": 8}}, DriftSettings()).bins
        {'x': 8}
        >>> FeatureOverrides.checked({"x": {"bns": 8}}, DriftSettings())
        Traceback (most recent call last):
        pydantic_core._pydantic_core.ValidationError: 1 validation error for ...
        x.bns
          Extra inputs are not permitted [type=extra_forbidden, input_value=8, input_type=int]
        ...
        """
        adapter = TypeAdapter(dict[str, FeatureSettings])
        overrides = cls(model, adapter.validate_python(features))
        overrides.check(drift)
        return overrides

    def check(self, drift: DriftSettings) -> None:
        """Raise ``ValueError`` naming a feature whose tests lack a threshold."""
        for name, entry in self.features.items():
            missing = set(entry.tests or []) - set(entry.thresholds) - set(drift.thresholds)
            if missing:
                where = f"features.{self.model}.{name}"
                raise ValueError(
                    f"{where}.tests: no threshold for {sorted(missing)} "
                    f"(set {where}.thresholds or drift.thresholds)"
                )

    def get(self, name: str) -> FeatureSettings | None:
        """The settings of feature ``name``, if any."""
        return self.features.get(name)

    @cached_property
    def ignored(self) -> frozenset[str]:
        """Features left out of every finding."""
        return frozenset(name for name, entry in self.features.items() if entry.ignore)

    @cached_property
    def bins(self) -> dict[str, int]:
        """Quantile bins of the features that set them."""
        return {name: e.bins for name, e in sorted(self.features.items()) if e.bins is not None}


class QualitySettings(_Section):
    """Data-quality checks per feature and window (shares are of the window's values)."""

    missing_increase: float = Field(
        0.1, gt=0, le=1, description="Rise of the missing share over the reference's."
    )
    new_category_share: float = Field(
        0.05, gt=0, le=1, description="Rise of the share of categories unseen in the reference."
    )
    out_of_range_share: float = Field(
        0.05, gt=0, le=1, description="Share of numbers outside the reference's [min, max]."
    )
    type_mismatch_share: float = Field(
        0.01, gt=0, le=1, description="Share of values of another type than the reference's."
    )


PerformanceMetric = Literal[
    "accuracy", "roc_auc", "log_loss", "brier", "precision", "recall", "f1", "mae", "rmse"
]


class PerformanceSettings(_Section):
    """Performance from labels: the join, the windows and the degradation test."""

    task: Literal["auto", "classification", "regression"] = Field(
        "auto", description="`auto`: classes, flags or 0/1 labels on [0, 1] scores classify."
    )
    metrics: list[PerformanceMetric] = Field(
        ["accuracy", "mae"],
        description="Metrics tracked, each with its own baseline and alerts; those of the "
        "other task are skipped (`mae`, `rmse` are a regressor's). `precision`, `recall`, "
        "`f1` are per class (subject `recall:<class>`); `roc_auc`, `log_loss` and `brier` "
        "need scores or class probabilities.",
    )
    window: int = Field(
        2000, ge=10, description="Labelled events per window (its metrics are reported)."
    )
    hop: int = Field(100, ge=1, description="Labelled events between two findings.")
    baseline_events: int = Field(
        10_000,
        ge=10,
        description="Without a labelled reference, the first labelled events set the baselines.",
    )
    min_change: float = Field(
        0.25,
        gt=0,
        description="Smallest degradation alerted, relative to the baseline: a rise of the "
        "error rate (`1 - metric` for accuracy, ROC AUC, precision, recall, F1), of the "
        "log loss, Brier score, MAE or RMSE by this share.",
    )
    z: float = Field(
        4.0, gt=0, description="Window tests (ROC AUC, per-class metrics): also z standard errors."
    )
    baseline_z: float = Field(
        1.5,
        ge=0,
        description="The sequential tests take the baseline loss at its upper confidence "
        "bound, this many standard errors above its estimate.",
    )
    detector: Literal["cusum", "none"] = Field(
        "cusum",
        description="`cusum`: a sequential test on the loss stream of accuracy, log loss, "
        "Brier, MAE and RMSE, whose detection fires at once; `none`: window tests for all.",
    )
    false_alarm_labels: float = Field(
        1_000_000,
        ge=100,
        description="Stationary labels per false alarm of the sequential tests, all of a "
        "model's metrics together (each gets its share).",
    )
    label_ttl: float = Field(
        7 * 86400.0, gt=0, description="Seconds (event time) a prediction waits for its label."
    )
    max_pending: int = Field(
        200_000, ge=1, description="Most predictions waiting for a label; the oldest go first."
    )
    early_label_ttl: float = Field(
        3600.0,
        gt=0,
        description="Seconds (event time) a label that came before its prediction is held: "
        "it expires once the model's predictions are this far past the label's time.",
    )
    max_early_labels: int = Field(
        5_000,
        ge=0,
        description="Most labels held per model for a prediction not seen yet (they are "
        "in its checkpoint); the oldest go first; 0 holds none.",
    )

    @model_validator(mode="after")
    def _hop_divides_window(self) -> Self:
        if self.hop > self.window or self.window % self.hop:
            raise ValueError(
                f"performance.hop ({self.hop}) must divide performance.window ({self.window})"
            )
        return self


class EstimateSettings(_Section):
    """Label-free performance estimates of binary classifiers from their scores (CBPE)."""

    enabled: bool = Field(
        True, description="Estimate when the reference has [0, 1] scores with 0/1 labels."
    )
    metrics: list[Literal["accuracy", "roc_auc"]] = Field(
        ["accuracy", "roc_auc"], description="Metrics estimated on every window."
    )
    min_change: float = Field(
        0.05, gt=0, description="Smallest drop alerted, as a share of the reference's estimate."
    )
    z: float = Field(4.0, gt=0, description="The drop must also exceed z standard errors.")
    min_scores: int = Field(100, ge=1, description="Fewest scores in a window to estimate.")


class MetricSettings(_Section):
    """Degradation of metrics sent as MetricEvents (two-sided mean shift)."""

    baseline: int = Field(50, ge=2, description="First values of a metric that set its baseline.")
    window: int = Field(20, ge=2, description="Values per test window (tested on every value).")
    relative_change: float = Field(
        0.2, gt=0, description="Smallest alerted change, as a share of the baseline mean."
    )
    z: float = Field(4.0, gt=0, description="The change must also exceed z standard errors.")


class PolicySettings(_Section):
    """Alert lifecycle: how many windows open and close an episode."""

    fire_after: int = Field(
        2,
        ge=1,
        description="Consecutive breaching windows to fire, for label performance and "
        "metric windows (drift and quality tests are calibrated to fire at once).",
    )
    resolve_after: int = Field(2, ge=1, description="Consecutive clean windows to resolve.")
    resolve_band: float = Field(
        0.5,
        gt=0,
        le=1,
        description="Hysteresis: a firing drift or quality subject is clean only once its "
        "score is below this share of its threshold (of the rise, for quality checks).",
    )


class ReferenceSettings(_Section):
    """How references are summarised."""

    bins: int = Field(
        20,
        ge=2,
        le=1000,
        description="Quantile bins per numeric column, for PSI, Jensen-Shannon and chi-square.",
    )
    resolution: int = Field(
        200,
        ge=2,
        le=10_000,
        description="Fine quantile bins per numeric column (plus finer ones in the tails), "
        "for Wasserstein and KS.",
    )
    max_categories: int = Field(
        100, ge=1, description="Categories kept by name per column; the rest count as other."
    )
    max_events: int = Field(
        200_000, ge=1, description="Rows kept to build a reference (a uniform sample past it)."
    )
    warmup_events: int = Field(
        5000,
        ge=100,
        description="A model with no reference is tested against its own first events.",
    )
    joint_variance: float = Field(
        0.65,
        gt=0,
        lt=1,
        description="Share of the numeric features' variance the PCA of joint drift keeps "
        "(NannyML's default).",
    )


class LimitSettings(_Section):
    """Caps on what one monitor process holds, so that a stream of ever new names
    (models, versions, features, metrics) cannot grow its state and checkpoints without
    bound. Refused events go to the dead letters, with the setting to raise."""

    max_models: int = Field(
        10_000,
        ge=1,
        description="Most models a process holds, first come; events of others are "
        "dead-lettered (`model_limit`). A Kafka worker also keeps models it takes over.",
    )
    max_versions: int = Field(
        100,
        ge=1,
        description="Most versions per model, first come; events of others are "
        "dead-lettered (`version_limit`).",
    )
    max_features: int = Field(
        1_000,
        ge=1,
        description="Most feature names a reference built from a model's first events "
        "keeps, first come; values of other names are left out and counted, as are those "
        "of names outside any reference.",
    )
    max_metrics: int = Field(
        100,
        ge=1,
        description="Most metric names per model version, first come; MetricEvents of "
        "others are dead-lettered (`metric_limit`).",
    )


class KafkaSettings(KafkaConnection):
    """The Kafka engine: the connection every client shares (the fields of
    :class:`~schemas.connection.KafkaConnection`), then how workers and topics are made.

    >>> KafkaSettings(broker="kafka://k:9092").kafka_python_options()["bootstrap_servers"]
    ['k:9092']
    """

    app_id: str = Field(
        "driftline", description="Faust app id: consumer group and table topic names."
    )
    partitions: int = Field(8, ge=1, description="Partitions of the topics the worker creates.")
    replication: int = Field(1, ge=1, description="Replication factor of those topics.")
    topic_suffix: str = Field("", description="Appended to every topic name (for tests).")
    batch_messages: int = Field(
        1000, ge=1, description="Most messages a worker applies as one micro-batch."
    )
    batch_wait: float = Field(
        0.05, gt=0, description="Seconds a worker waits to fill a micro-batch."
    )
    fetch_wait_ms: int = Field(
        100, ge=0, description="Longest a worker's fetch waits on quiet partitions (ms)."
    )
    session_timeout: float = Field(
        10.0,
        ge=1,
        le=90,
        description="Seconds without a heartbeat before the group drops a worker and "
        "others take its partitions (the broker allows 6 to 1,800 by default).",
    )
    heartbeat_interval: float = Field(
        1.0, gt=0, description="Seconds between a worker's heartbeats; under session_timeout."
    )
    instance_id: str | None = Field(
        None,
        description="Static membership (group.instance.id): a stable name unique to this "
        "worker, e.g. its pod's. Restarted under it, a worker gets its partitions back "
        "without a rebalance; stopped, its partitions wait session_timeout.",
    )

    @model_validator(mode="after")
    def _heartbeat_within_session(self) -> Self:
        if self.heartbeat_interval >= self.session_timeout:
            raise ValueError(
                f"kafka.heartbeat_interval ({self.heartbeat_interval}) must be less than "
                f"kafka.session_timeout ({self.session_timeout})"
            )
        return self


class MonitorSettings(BaseSettings):
    """Everything the monitor needs; each section is documented field by field."""

    model_config = SettingsConfigDict(
        env_prefix="DRIFTLINE_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    models: list[str] = Field(
        [], description="Declared models; when set, events of other models are dead-lettered."
    )
    window: WindowSettings = WindowSettings()
    drift: DriftSettings = DriftSettings()
    quality: QualitySettings = QualitySettings()
    joint: JointSettings = JointSettings()
    performance: PerformanceSettings = PerformanceSettings()
    estimate: EstimateSettings = EstimateSettings()
    metrics: MetricSettings = MetricSettings()
    policy: PolicySettings = PolicySettings()
    reference: ReferenceSettings = ReferenceSettings()
    features: dict[str, dict[str, FeatureSettings]] = Field(
        {},
        description="Settings per model (`*`: every model) and feature, over the sections "
        "above: the `features.<model>.<feature>` rows below.",
    )
    limits: LimitSettings = LimitSettings()
    kafka: KafkaSettings = KafkaSettings()

    @model_validator(mode="after")
    def _features_known(self) -> Self:
        for model in self.features:
            if self.models and model != "*" and model not in self.models:
                raise ValueError(f"features.{model}: not a declared model (models)")
            self.overrides(model).check(self.drift)
        return self

    def overrides(self, model: str) -> FeatureOverrides:
        """The ``features`` settings that apply to ``model``."""
        return FeatureOverrides.resolve(self.features, model)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))


def load_settings(config: Path | None = None) -> MonitorSettings:
    """Settings from ``config`` (TOML), the environment and defaults.

    Raises :class:`~monitor.errors.ConfigError` with the file and the offending setting.
    """
    from pydantic import ValidationError

    if config is not None and not config.is_file():
        raise ConfigError(f"config file {config} does not exist")
    try:
        if config is None:
            return MonitorSettings()

        class FileSettings(MonitorSettings):
            model_config = SettingsConfigDict(toml_file=config)

        return MonitorSettings.model_validate(FileSettings().model_dump())
    except ValidationError as error:
        where = f" in {config}" if config else ""
        env = sorted(k for k in os.environ if k.startswith("DRIFTLINE_"))
        hint = f" (environment: {', '.join(env)})" if env else ""
        raise ConfigError(f"invalid settings{where}{hint}:\n{error}") from error
    except ValueError as error:  # a TOML syntax error
        raise ConfigError(f"cannot read {config}: {error}") from error


def _table() -> list[str]:
    """The README's configuration reference: one row per setting."""
    rows = []
    for name, field in MonitorSettings.model_fields.items():
        section = field.default
        if isinstance(section, BaseModel):
            for key, sub in type(section).model_fields.items():
                rows.append(f"| `{name}.{key}` | `{sub.default!r}` | {sub.description} |")
        else:
            rows.append(f"| `{name}` | `{field.default!r}` | {field.description} |")
        if name == "features":  # a table per model and feature, each of these fields
            for key, sub in FeatureSettings.model_fields.items():
                where = f"{name}.<model>.<feature>.{key}"
                rows.append(f"| `{where}` | `{sub.default!r}` | {sub.description} |")
    return rows


if __name__ == "__main__":  # pragma: no cover - prints the README's reference
    print("\n".join(_table()))
