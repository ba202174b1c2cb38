"""Settings of the monitor: defaults, a TOML file, and ``DRIFTLINE_*`` variables.

Precedence, highest first: keyword arguments, environment variables (nested with ``__``,
e.g. ``DRIFTLINE_WINDOW__SIZE=2000``), the TOML file given with ``--config``, defaults.
Every setting is documented once, here; the README's configuration reference is
generated from these descriptions (``python -m monitor.settings``).

>>> settings = MonitorSettings(window={"size": 2000, "hop": 500})
>>> settings.window.panes, settings.drift.thresholds["psi"]
(4, 0.2)
"""

import os
from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from monitor.errors import ConfigError
from schemas.connection import KafkaConnection

__all__ = [
    "DriftSettings",
    "DriftTest",
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


class WindowSettings(_Section):
    """Hopping windows per model and version: ``size`` long, tested every ``hop``."""

    kind: Literal["count", "time"] = Field(
        "count", description="`count`: size and hop in events; `time`: in event-time seconds."
    )
    size: float = Field(2000, gt=0, description="Window length (events or seconds).")
    hop: float = Field(500, gt=0, description="How often a window is tested; divides size.")
    min_events: int = Field(
        500, ge=1, description="A window with fewer events (time windows) is not tested."
    )

    @model_validator(mode="after")
    def _hop_divides_size(self) -> Self:
        panes = self.size / self.hop
        if self.hop > self.size or abs(panes - round(panes)) > 1e-9:
            raise ValueError(f"window.hop ({self.hop}) must divide window.size ({self.size})")
        if self.kind == "count" and (self.size != int(self.size) or self.hop != int(self.hop)):
            raise ValueError("count windows need whole numbers of events for size and hop")
        return self

    @property
    def panes(self) -> int:
        """Panes (hops) per window."""
        return round(self.size / self.hop)


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


class PerformanceSettings(_Section):
    """Performance from labels: the join, the windows and the degradation test."""

    task: Literal["auto", "classification", "regression"] = Field(
        "auto", description="`auto`: classes, flags or 0/1 labels on [0, 1] scores classify."
    )
    window: int = Field(500, ge=10, description="Labelled events per performance window.")
    hop: int = Field(250, ge=1, description="Labelled events between two tests.")
    baseline_events: int = Field(
        1000, ge=10, description="Without a labelled reference, the first labelled events."
    )
    min_change: float = Field(
        0.05,
        gt=0,
        description="Smallest degradation alerted: accuracy points, or MAE as a share of "
        "the baseline MAE.",
    )
    z: float = Field(4.0, gt=0, description="Degradation must also exceed z standard errors.")
    detector: Literal["adwin", "page_hinkley", "none"] = Field(
        "adwin", description="river detector on the loss stream; a detection fires at once."
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

    fire_after: int = Field(2, ge=1, description="Consecutive breaching windows to fire.")
    resolve_after: int = Field(2, ge=1, description="Consecutive clean windows to resolve.")


class ReferenceSettings(_Section):
    """How references are summarised."""

    bins: int = Field(20, ge=2, le=1000, description="Quantile bins per numeric column.")
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
    metrics: MetricSettings = MetricSettings()
    policy: PolicySettings = PolicySettings()
    reference: ReferenceSettings = ReferenceSettings()
    limits: LimitSettings = LimitSettings()
    kafka: KafkaSettings = KafkaSettings()

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


if __name__ == "__main__":  # pragma: no cover - prints the README's reference
    for name, field in MonitorSettings.model_fields.items():
        section = field.default
        if isinstance(section, BaseModel):
            for key, sub in type(section).model_fields.items():
                print(f"| `{name}.{key}` | `{sub.default!r}` | {sub.description} |")
        else:
            print(f"| `{name}` | `{field.default!r}` | {field.description} |")
