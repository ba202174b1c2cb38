"""Settings of the event producer, from keyword arguments or environment variables.

The connection (:class:`~schemas.connection.KafkaConnection`: ``broker``,
``security_protocol``, ``sasl_*``, ``ssl_cafile``) comes from the ``DRIFTLINE_KAFKA__*``
variables that ``driftline worker`` and ``driftline alerts`` read too; what only the
producer has (batching, buffer, topics) from ``DRIFTLINE_PRODUCER_*``.

The SDK's older names still work, with a ``FutureWarning`` naming the new one: the
keyword ``bootstrap_servers`` (now ``broker``) and the variables
``DRIFTLINE_PRODUCER_BOOTSTRAP_SERVERS``, ``_SECURITY_PROTOCOL``, ``_SASL_MECHANISM``,
``_SASL_USERNAME``, ``_SASL_PASSWORD`` and ``_SSL_CAFILE`` (see
:data:`DEPRECATED_VARIABLES`; a new name that is set wins).

>>> settings = ProducerSettings(broker="kafka://kafka:9092", linger_ms=20)
>>> settings.kafka_config()["bootstrap_servers"], settings.kafka_config()["acks"]
(['kafka:9092'], 'all')
"""

import os
import warnings
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from schemas import topics
from schemas.connection import RECONNECT_BACKOFF_MAX_MS, KafkaConnection
from schemas.limits import MAX_EVENT_BYTES

__all__ = ["DEPRECATED_VARIABLES", "ProducerSettings", "renamed_keywords"]

NEVER_MS = 2**31 - 1
"""Kafka's longest timeout (Java's Integer.MAX_VALUE ms, about 24.8 days)."""

CONNECTION_PREFIX = "DRIFTLINE_KAFKA__"
"""Prefix of the connection's variables, as the monitor's ``kafka.*`` settings name them."""

_OLD_NAMES = {"broker": "bootstrap_servers"}

DEPRECATED_VARIABLES: dict[str, str] = {
    f"DRIFTLINE_PRODUCER_{_OLD_NAMES.get(name, name).upper()}": CONNECTION_PREFIX + name.upper()
    for name in KafkaConnection.model_fields
}
"""The SDK's old connection variables, each with the variable that replaces it."""


def _deprecated(message: str, stacklevel: int = 2) -> None:
    """Warn, pointing ``stacklevel`` frames above the caller.

    A FutureWarning rather than a DeprecationWarning: Python shows it by default, and
    those who set the variables (the operators of a service, of `driftline produce`)
    must see it."""
    warnings.warn(message, FutureWarning, stacklevel=stacklevel + 1)


def renamed_keywords(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with the deprecated keyword ``bootstrap_servers`` as ``broker``.

    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     renamed_keywords({"bootstrap_servers": "k:9092", "linger_ms": 5})
    {'linger_ms': 5, 'broker': 'k:9092'}
    >>> print(caught[0].message)
    bootstrap_servers= is deprecated: use broker= (kafka://host:port or host:port, ...)
    """
    values = dict(values)
    if "bootstrap_servers" in values:
        if "broker" in values:
            raise TypeError("pass broker= alone: bootstrap_servers= is its deprecated name")
        _deprecated(
            "bootstrap_servers= is deprecated: use broker= (kafka://host:port or host:port, ...)",
            stacklevel=3,  # the line that passed the keyword
        )
        values["broker"] = values.pop("bootstrap_servers")
    return values


class ProducerSettings(BaseSettings, KafkaConnection):
    """How the producer reaches Kafka (the connection's fields, first), and how it
    batches and buffers events."""

    model_config = SettingsConfigDict(env_prefix="DRIFTLINE_PRODUCER_", extra="forbid", frozen=True)

    def __init__(self, **values: Any) -> None:
        super().__init__(**renamed_keywords(values))

    compression: Literal["gzip", "snappy", "lz4", "zstd", "none"] = Field(
        "gzip", description="Message compression; workers read every codec Kafka has."
    )
    batch_events: int = Field(500, ge=1, description="Most events in one batch message.")
    batch_bytes: int = Field(
        512 * 1024, ge=1024, le=MAX_EVENT_BYTES, description="Most bytes in one batch message."
    )
    linger_ms: float = Field(50, ge=0, description="Longest wait for a batch to fill.")
    buffer_events: int = Field(
        100_000, ge=1, description="Events held while Kafka is slow or down; the oldest drop."
    )
    max_block_ms: int = Field(
        10_000,
        ge=0,
        description="Longest a send waits to connect or for metadata (off the caller).",
    )
    predictions_topic: str = topics.PREDICTIONS
    labels_topic: str = topics.LABELS
    metrics_topic: str = topics.METRICS
    extra_config: dict[str, Any] = Field(
        default_factory=dict, description="Passed as is to kafka-python's KafkaProducer."
    )

    def kafka_config(self) -> dict[str, Any]:
        """Keyword arguments of ``kafka.KafkaProducer``: idempotent, acks=all."""
        config: dict[str, Any] = {
            "compression_type": None if self.compression == "none" else self.compression,
            "acks": "all",
            "enable_idempotence": True,
            "max_block_ms": self.max_block_ms,
            "bootstrap_timeout_ms": self.max_block_ms,  # the first connection, too
            "max_request_size": max(self.batch_bytes + 1024, 1_048_576),
            # Events handed to kafka-python wait for the broker as long as it is down (its
            # 32 MB buffer, then ours, bound them) rather than expire after its 120 s
            # default: in kafka-python 3.0.12 an expired batch that had been sent makes
            # the idempotent producer drop its producer id without asking for a new one,
            # and it never sends again (tests/kafka/test_restart.py).
            "delivery_timeout_ms": NEVER_MS,
            "reconnect_backoff_max_ms": RECONNECT_BACKOFF_MAX_MS,
        }
        return self.kafka_python_options() | config | self.extra_config

    @property
    def bootstrap_servers(self) -> str:
        """Deprecated: the servers of ``broker``, joined by commas."""
        _deprecated("ProducerSettings.bootstrap_servers is deprecated: read broker or servers")
        return ",".join(self.servers)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Keywords, then the connection from ``DRIFTLINE_KAFKA__*`` (or the deprecated
        names), then the rest from ``DRIFTLINE_PRODUCER_*``."""
        return (
            init_settings,
            _ConnectionVariables(settings_cls),
            _Without(env_settings, frozenset(KafkaConnection.model_fields)),
        )


class _ConnectionVariables(PydanticBaseSettingsSource):
    """The connection's fields from ``DRIFTLINE_KAFKA__*``, else from their deprecated
    ``DRIFTLINE_PRODUCER_*`` names (with a warning that names the new variable).
    Names match whatever their case, as pydantic-settings' own sources do."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads them all

    def __call__(self) -> dict[str, Any]:
        environ = {name.upper(): value for name, value in os.environ.items()}
        values = {}
        for old, new in DEPRECATED_VARIABLES.items():
            field = new.removeprefix(CONNECTION_PREFIX).lower()
            if new in environ:
                values[field] = environ[new]
                if old in environ:
                    _deprecated(f"{old} is deprecated and ignored: {new} is set")
            elif old in environ:
                values[field] = environ[old]
                _deprecated(
                    f"{old} is deprecated: set {new}, the name driftline worker and "
                    "driftline alerts read too"
                )
        return values


class _Without(PydanticBaseSettingsSource):
    """``source``'s values, less those of the fields ``names``."""

    def __init__(self, source: PydanticBaseSettingsSource, names: frozenset[str]) -> None:
        super().__init__(source.settings_cls)
        self._source = source
        self._names = names

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self._source.get_field_value(field, field_name)

    def __call__(self) -> dict[str, Any]:
        return {name: value for name, value in self._source().items() if name not in self._names}
