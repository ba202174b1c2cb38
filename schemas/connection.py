"""How every driftline client reaches Kafka: one model of the connection, one parser of
broker URLs, and one mapping to the options of each client library.

The worker (Faust on aiokafka), the topic admin, alert followers, ``driftline produce``,
the producer SDK and the console all connect with a :class:`KafkaConnection`. The
monitor's ``kafka`` settings and the SDK's settings extend it, so its six fields are set
by the same ``DRIFTLINE_KAFKA__*`` variables everywhere. It lives in :mod:`schemas`
because that is the one package both the monitor and the producers may import; it
imports no Kafka client. Faust takes the aiokafka options through its own credentials
objects: that mapping, :func:`monitor.kafka.connection.faust_options`, is in the Kafka
engine, the only layer that may import Faust.

A broker URL is ``kafka://host:port``, several joined by commas
(``kafka://k1:9092,k2:9092``: the scheme may be left out on any of them, so plain
``k1:9092,k2:9092`` works too).

>>> connection = KafkaConnection(broker="kafka://k1:9092,k2:9092",
...                              security_protocol="SASL_PLAINTEXT",
...                              sasl_mechanism="SCRAM-SHA-512", sasl_username="monitor",
...                              sasl_password="secret")
>>> connection.servers
['k1:9092', 'k2:9092']
>>> connection.sasl_password  # never printed nor logged
SecretStr('**********')
>>> connection.kafka_python_options()["sasl_plain_password"]
'secret'
"""

import ssl
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

__all__ = [
    "RECONNECT_BACKOFF_MAX_MS",
    "KafkaConnection",
    "SaslMechanism",
    "SecurityProtocol",
    "parse_broker",
]

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]

SCHEME = "kafka://"

RECONNECT_BACKOFF_MAX_MS = 1000
"""Longest pause of a kafka-python client between two attempts to reach a broker that is
down (kafka-python's backoff grows to 30 s; Java's client stops at 1 s)."""


def parse_broker(url: str) -> list[str]:
    """The ``host:port`` servers of a broker URL, as Kafka clients take them.

    >>> parse_broker("kafka://k1:9092, kafka://k2:9093")
    ['k1:9092', 'k2:9093']
    >>> parse_broker("k1:9092,k2:9093")
    ['k1:9092', 'k2:9093']
    >>> parse_broker("http://k1:9092")
    Traceback (most recent call last):
    ValueError: broker 'http://k1:9092': 'http://k1:9092' is not kafka://host:port nor host:port
    """
    servers = []
    for part in url.split(","):
        server = part.strip().removeprefix(SCHEME).rstrip("/")
        if "://" in server or "/" in server:
            raise ValueError(
                f"broker {url!r}: {part.strip()!r} is not {SCHEME}host:port nor host:port"
            )
        if server:
            servers.append(server)
    if not servers:
        raise ValueError(f"broker {url!r} names no server ({SCHEME}host:port,host:port...)")
    return servers


class KafkaConnection(BaseModel):
    """Where the brokers are and how to log in: the same fields for every client.

    Each ``*_options`` method maps them to one client library's keywords; a password is
    revealed only there. SASL without a mechanism uses PLAIN. TLS verifies the brokers
    with ``ssl_cafile``, else with the system's CAs, and checks their host names.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    broker: str = Field(
        "kafka://localhost:9092",
        description="Broker URL(s): kafka://host:port, several joined by commas (the "
        "scheme is optional). Every client uses it: workers, `alerts`, `produce`, the SDK.",
    )
    security_protocol: SecurityProtocol = Field(
        "PLAINTEXT",
        description="How every client connects: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.",
    )
    sasl_mechanism: SaslMechanism | None = Field(
        None, description="SASL mechanism (PLAIN when unset), with sasl_username and sasl_password."
    )
    sasl_username: str | None = Field(None, description="SASL user name.")
    sasl_password: SecretStr | None = Field(None, description="SASL password (never logged).")
    ssl_cafile: str | None = Field(
        None, description="CA bundle to verify the brokers with (default: the system's CAs)."
    )

    @field_validator("broker")
    @classmethod
    def _broker_parses(cls, broker: str) -> str:
        parse_broker(broker)
        return broker

    @property
    def servers(self) -> list[str]:
        """The brokers as ``host:port`` strings."""
        return parse_broker(self.broker)

    @property
    def uses_tls(self) -> bool:
        """Whether the protocol encrypts (SSL, SASL_SSL)."""
        return self.security_protocol in ("SSL", "SASL_SSL")

    @property
    def uses_sasl(self) -> bool:
        """Whether the protocol logs in (SASL_PLAINTEXT, SASL_SSL)."""
        return self.security_protocol in ("SASL_PLAINTEXT", "SASL_SSL")

    def ssl_context(self) -> ssl.SSLContext:
        """A TLS context that verifies the brokers as kafka-python does: with
        ``ssl_cafile`` (an ``OSError`` if it cannot be read), else the system's CAs, and
        their host names checked."""
        return ssl.create_default_context(cafile=self.ssl_cafile)

    def kafka_python_options(self) -> dict[str, Any]:
        """Keywords of kafka-python's clients (``KafkaProducer``, ``KafkaConsumer``,
        ``KafkaAdminClient``): the servers, protocol, SASL login and CA file.

        >>> KafkaConnection(broker="k:9093", security_protocol="SSL",
        ...                 ssl_cafile="ca.pem").kafka_python_options()
        {'bootstrap_servers': ['k:9093'], 'security_protocol': 'SSL', 'ssl_cafile': 'ca.pem'}
        """
        options = self._common_options()
        if self.uses_tls and self.ssl_cafile is not None:
            options["ssl_cafile"] = self.ssl_cafile
        return options

    def aiokafka_options(self) -> dict[str, Any]:
        """Keywords of aiokafka's clients: like kafka-python's, but TLS as an
        ``ssl_context`` (made here, so a CA file that cannot be read raises here).

        >>> KafkaConnection(broker="k:9092").aiokafka_options()
        {'bootstrap_servers': ['k:9092'], 'security_protocol': 'PLAINTEXT'}
        """
        options = self._common_options()
        if self.uses_tls:
            options["ssl_context"] = self.ssl_context()
        return options

    def _common_options(self) -> dict[str, Any]:
        """What kafka-python and aiokafka name alike: servers, protocol, SASL login."""
        options: dict[str, Any] = {
            "bootstrap_servers": self.servers,
            "security_protocol": self.security_protocol,
        }
        if self.uses_sasl:
            password = self.sasl_password
            options |= {
                "sasl_mechanism": self.sasl_mechanism or "PLAIN",
                "sasl_plain_username": self.sasl_username,
                "sasl_plain_password": None if password is None else password.get_secret_value(),
            }
        return options
