"""One Kafka connection for every client: the broker parser, the mapping to kafka-python,
aiokafka and Faust over each security protocol, and one set of variable names (the
SDK's old ones still read, with a warning that names the new one)."""

import inspect
import os
import shutil
import ssl
import subprocess
import warnings
from pathlib import Path
from typing import Any

import aiokafka
import faust
import kafka
import pytest
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth, server_list
from pydantic import ValidationError

from monitor.cli.main import main
from monitor.kafka.connection import faust_options
from monitor.settings import KafkaSettings, MonitorSettings
from producers.producer import DriftlineProducer
from producers.settings import DEPRECATED_VARIABLES, ProducerSettings
from schemas.connection import KafkaConnection, parse_broker

USER, PASSWORD = "monitor", "s3cret"
PROTOCOLS = ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No DRIFTLINE_* variable of the machine running the tests leaks in."""
    for name in list(os.environ):
        if name.startswith("DRIFTLINE_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def ca_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The PEM file of a self-signed CA (no broker needs it: only the contexts load it)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not on PATH; it makes the test CA")
    folder = tmp_path_factory.mktemp("ca")
    command = [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt"]
    command += ["ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"]
    command += ["-subj", "/CN=driftline test CA", "-keyout", str(folder / "ca.key")]
    subprocess.run([*command, "-out", str(folder / "ca.pem")], check=True, capture_output=True)
    return folder / "ca.pem"


def connection(protocol: str, ca_file: Path) -> KafkaConnection:
    """A connection over ``protocol`` to two brokers, with every field it uses."""
    fields: dict[str, Any] = {"broker": "kafka://k1:9093,k2:9093", "security_protocol": protocol}
    if protocol.startswith("SASL"):
        fields |= {"sasl_mechanism": "SCRAM-SHA-512", "sasl_username": USER}
        fields |= {"sasl_password": PASSWORD}
    if protocol.endswith("SSL"):
        fields["ssl_cafile"] = str(ca_file)
    return KafkaConnection(**fields)


@pytest.mark.parametrize(
    ("url", "servers"),
    [
        ("kafka://k1:9092", ["k1:9092"]),
        ("k1:9092", ["k1:9092"]),
        ("kafka://k1:9092,kafka://k2:9093", ["k1:9092", "k2:9093"]),
        ("kafka://k1:9092,k2:9093", ["k1:9092", "k2:9093"]),
        (" k1:9092 , kafka://k2:9093/ ,", ["k1:9092", "k2:9093"]),
        ("kafka://[::1]:9092", ["[::1]:9092"]),
        ("k1", ["k1"]),  # the clients' default port
    ],
)
def test_broker_urls_parse_to_servers(url: str, servers: list[str]) -> None:
    assert parse_broker(url) == servers
    assert KafkaConnection(broker=url).servers == servers


@pytest.mark.parametrize("url", ["", " , ", "http://k1:9092", "k1:9092,aiokafka://k2", "k1/x"])
def test_a_broker_url_that_is_not_kafka_is_refused_by_every_settings_object(url: str) -> None:
    with pytest.raises(ValueError, match="broker"):
        parse_broker(url)
    for settings in (KafkaConnection, KafkaSettings, ProducerSettings):
        with pytest.raises(ValidationError, match="broker"):
            settings(broker=url)


def test_the_monitor_and_the_sdk_share_the_connection_fields() -> None:
    fields = set(KafkaConnection.model_fields)
    assert fields == {
        "broker",
        "security_protocol",
        "sasl_mechanism",
        "sasl_username",
        "sasl_password",
        "ssl_cafile",
    }
    for settings in (KafkaSettings, ProducerSettings):
        assert issubclass(settings, KafkaConnection)
        for name in fields:  # declared once: same type, default and description
            assert repr(settings.model_fields[name]) == repr(KafkaConnection.model_fields[name])


@pytest.mark.parametrize(
    ("protocol", "expected"),
    [
        ("PLAINTEXT", {}),
        ("SSL", {"ssl_cafile": "CA"}),
        (
            "SASL_PLAINTEXT",
            {
                "sasl_mechanism": "SCRAM-SHA-512",
                "sasl_plain_username": USER,
                "sasl_plain_password": PASSWORD,
            },
        ),
        (
            "SASL_SSL",
            {
                "sasl_mechanism": "SCRAM-SHA-512",
                "sasl_plain_username": USER,
                "sasl_plain_password": PASSWORD,
                "ssl_cafile": "CA",
            },
        ),
    ],
)
def test_kafka_python_options(protocol: str, expected: dict[str, str], ca_file: Path) -> None:
    options = connection(protocol, ca_file).kafka_python_options()
    assert options == {
        "bootstrap_servers": ["k1:9093", "k2:9093"],
        "security_protocol": protocol,
        **{key: str(ca_file) if value == "CA" else value for key, value in expected.items()},
    }
    for client in (kafka.KafkaProducer, kafka.KafkaConsumer, kafka.KafkaAdminClient):
        assert set(options) <= set(client.DEFAULT_CONFIG), client  # type: ignore[attr-defined]


def _context(context: ssl.SSLContext) -> tuple[Any, ...]:
    """What a TLS context checks: the peer, its host name, and the CAs it trusts."""
    cas = sorted(str(ca["subject"]) for ca in context.get_ca_certs())
    return context.verify_mode, context.check_hostname, cas


def _comparable(options: dict[str, Any]) -> dict[str, Any]:
    return {
        key: _context(value) if isinstance(value, ssl.SSLContext) else value
        for key, value in options.items()
        if value is not None
    }


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_aiokafka_options(protocol: str, ca_file: Path) -> None:
    options = connection(protocol, ca_file).aiokafka_options()
    expected: dict[str, Any] = {
        "bootstrap_servers": ["k1:9093", "k2:9093"],
        "security_protocol": protocol,
    }
    if protocol.startswith("SASL"):
        expected |= {"sasl_mechanism": "SCRAM-SHA-512", "sasl_plain_username": USER}
        expected |= {"sasl_plain_password": PASSWORD}
    if protocol.endswith("SSL"):
        cas = [
            str(ca["subject"]) for ca in ssl.create_default_context(cafile=ca_file).get_ca_certs()
        ]
        assert "driftline test CA" in cas[0]
        expected["ssl_context"] = (ssl.CERT_REQUIRED, True, cas)
    assert _comparable(options) == expected
    for client in (aiokafka.AIOKafkaProducer, aiokafka.AIOKafkaConsumer):
        assert set(options) <= set(inspect.signature(client).parameters), client


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_faust_gets_the_aiokafka_options_through_its_credentials(
    protocol: str, ca_file: Path
) -> None:
    """Faust turns ``broker_credentials`` into aiokafka keywords itself: they must be
    those of :meth:`~schemas.connection.KafkaConnection.aiokafka_options`."""
    kafka_connection = connection(protocol, ca_file)
    app = faust.App("connection-test", **faust_options(kafka_connection))
    assert server_list(app.conf.broker, 9092) == ["k1:9093", "k2:9093"]
    credentials = app.conf.broker_credentials
    assert (credentials is None) == (protocol == "PLAINTEXT")
    expected = kafka_connection.aiokafka_options()
    del expected["bootstrap_servers"]
    assert _comparable(dict(credentials_to_aiokafka_auth(credentials))) == _comparable(expected)


def test_sasl_without_a_mechanism_is_plain_for_every_client() -> None:
    plain = KafkaConnection(broker="k:9092", security_protocol="SASL_PLAINTEXT")
    assert plain.kafka_python_options()["sasl_mechanism"] == "PLAIN"
    assert plain.aiokafka_options()["sasl_mechanism"] == "PLAIN"
    credentials = faust_options(plain)["broker_credentials"]
    assert credentials_to_aiokafka_auth(credentials)["sasl_mechanism"] == "PLAIN"


def test_the_password_is_never_printed() -> None:
    sasl = KafkaConnection(security_protocol="SASL_PLAINTEXT", sasl_password=PASSWORD)
    for settings in (
        sasl,
        KafkaSettings(sasl_password=PASSWORD),
        ProducerSettings(sasl_password=PASSWORD),
    ):
        assert PASSWORD not in repr(settings) + str(settings)
    assert PASSWORD not in repr(faust_options(sasl))


CONNECTION_VARIABLES = {
    "DRIFTLINE_KAFKA__BROKER": "kafka://k1:9093,k2:9093",
    "DRIFTLINE_KAFKA__SECURITY_PROTOCOL": "SASL_SSL",
    "DRIFTLINE_KAFKA__SASL_MECHANISM": "SCRAM-SHA-256",
    "DRIFTLINE_KAFKA__SASL_USERNAME": USER,
    "DRIFTLINE_KAFKA__SASL_PASSWORD": PASSWORD,
    "DRIFTLINE_KAFKA__SSL_CAFILE": "/etc/kafka/ca.pem",
}


def _as_fields() -> dict[str, str]:
    """CONNECTION_VARIABLES as the fields they set."""
    return {
        name.removeprefix("DRIFTLINE_KAFKA__").lower(): value
        for name, value in CONNECTION_VARIABLES.items()
    }


def _fields(settings: KafkaConnection) -> dict[str, Any]:
    return {name: getattr(settings, name) for name in KafkaConnection.model_fields} | {
        "sasl_password": settings.sasl_password and settings.sasl_password.get_secret_value()
    }


def test_one_set_of_variables_for_the_monitor_and_the_sdk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in CONNECTION_VARIABLES.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DRIFTLINE_PRODUCER_LINGER_MS", "7")  # producer-only: its own prefix
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new names warn of nothing
        monitor, sdk = MonitorSettings().kafka, ProducerSettings()
    assert _fields(monitor) == _fields(sdk) == _as_fields()
    assert sdk.linger_ms == 7
    assert sdk.kafka_config()["sasl_plain_username"] == USER


def test_the_sdk_still_reads_its_old_variables_and_names_the_new_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert DEPRECATED_VARIABLES == {
        "DRIFTLINE_PRODUCER_BOOTSTRAP_SERVERS": "DRIFTLINE_KAFKA__BROKER",
        "DRIFTLINE_PRODUCER_SECURITY_PROTOCOL": "DRIFTLINE_KAFKA__SECURITY_PROTOCOL",
        "DRIFTLINE_PRODUCER_SASL_MECHANISM": "DRIFTLINE_KAFKA__SASL_MECHANISM",
        "DRIFTLINE_PRODUCER_SASL_USERNAME": "DRIFTLINE_KAFKA__SASL_USERNAME",
        "DRIFTLINE_PRODUCER_SASL_PASSWORD": "DRIFTLINE_KAFKA__SASL_PASSWORD",
        "DRIFTLINE_PRODUCER_SSL_CAFILE": "DRIFTLINE_KAFKA__SSL_CAFILE",
    }
    for old, new in DEPRECATED_VARIABLES.items():
        monkeypatch.setenv(old, CONNECTION_VARIABLES[new])
    with pytest.warns(FutureWarning) as caught:
        settings = ProducerSettings()
    messages = sorted(str(warning.message) for warning in caught)
    assert messages == sorted(
        f"{old} is deprecated: set {new}, the name driftline worker and driftline alerts read too"
        for old, new in DEPRECATED_VARIABLES.items()
    )
    assert _fields(settings) == _as_fields()


def test_a_new_variable_wins_over_its_old_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRIFTLINE_PRODUCER_SASL_USERNAME", "old")
    monkeypatch.setenv("DRIFTLINE_KAFKA__SASL_USERNAME", "new")
    monkeypatch.setenv("DRIFTLINE_PRODUCER_BROKER", "never-a-name:1")  # not read
    with pytest.warns(FutureWarning, match="SASL_USERNAME is deprecated and ignored"):
        settings = ProducerSettings()
    assert (settings.sasl_username, settings.broker) == ("new", "kafka://localhost:9092")


def test_keywords_win_over_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRIFTLINE_KAFKA__BROKER", "kafka://from-env:9092")
    assert ProducerSettings(broker="k:1").servers == ["k:1"]
    assert ProducerSettings().servers == ["from-env:9092"]


def test_the_old_keyword_still_works_with_a_warning() -> None:
    with pytest.warns(
        FutureWarning, match=r"bootstrap_servers= is deprecated: use broker="
    ) as caught:
        settings = ProducerSettings(bootstrap_servers="k1:9092,k2:9092")
    assert caught[0].filename == __file__  # the warning points at the caller's line
    assert settings.servers == ["k1:9092", "k2:9092"]
    with pytest.warns(FutureWarning, match="ProducerSettings.bootstrap_servers is deprecated"):
        assert settings.bootstrap_servers == "k1:9092,k2:9092"
    with pytest.raises(TypeError, match="broker= alone"):
        ProducerSettings(bootstrap_servers="k1:9092", broker="k2:9092")
    with pytest.warns(FutureWarning, match="bootstrap_servers="):
        producer = DriftlineProducer(bootstrap_servers="k3:1")
    assert producer.settings.servers == ["k3:1"]
    with pytest.warns(FutureWarning, match="bootstrap_servers="):
        producer = DriftlineProducer(settings, bootstrap_servers="k4:1")
    assert producer.settings.servers == ["k4:1"]
    assert producer.close(timeout=0)


@pytest.mark.parametrize("command", ["alerts", "produce", "worker"])
def test_a_broker_that_is_not_a_kafka_url_is_a_clear_error(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([command, "--broker", "http://k1:9092"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("driftline: error:")
    assert "'http://k1:9092' is not kafka://host:port nor host:port" in error
