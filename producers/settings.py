"""Settings of the event producer, from keyword arguments or ``DRIFTLINE_PRODUCER_*``.

>>> settings = ProducerSettings(bootstrap_servers="kafka:9092", linger_ms=20)
>>> settings.kafka_config()["bootstrap_servers"], settings.kafka_config()["acks"]
(['kafka:9092'], 'all')
"""

from typing import Any, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from producers.security import security_config
from schemas import topics
from schemas.limits import MAX_EVENT_BYTES

__all__ = ["ProducerSettings"]

NEVER_MS = 2**31 - 1
"""Kafka's longest timeout (Java's Integer.MAX_VALUE ms, about 24.8 days)."""

RECONNECT_BACKOFF_MAX_MS = 1000
"""Longest pause between two attempts to reach a broker that is down."""


class ProducerSettings(BaseSettings):
    """How the producer reaches Kafka, and how it batches and buffers events."""

    model_config = SettingsConfigDict(env_prefix="DRIFTLINE_PRODUCER_", extra="forbid", frozen=True)

    bootstrap_servers: str = Field("localhost:9092", description="Kafka brokers, host:port,...")
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: str | None = Field(None, description="CA bundle to verify the brokers with.")
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
            "bootstrap_servers": self.bootstrap_servers.split(","),
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
            # Back within a second of a broker restart (kafka-python's backoff grows to
            # 30 s while the broker is down; Java's client stops at 1 s).
            "reconnect_backoff_max_ms": RECONNECT_BACKOFF_MAX_MS,
        }
        return config | security_config(self) | self.extra_config
