"""The Kafka security settings against a real broker that requires a SASL login.

The module starts its own :class:`~monitor.dev.kafka.LocalKafka` with a
``SASL_PLAINTEXT`` listener (PLAIN and SCRAM-SHA-512) whatever
``KAFKA_BOOTSTRAP_SERVERS`` says, and drives every client driftline makes through it
with the settings users set: the producer SDK (``ProducerSettings``), the topic admin
and the ``alerts`` command (``kafka.*`` settings), and a ``driftline worker`` process
configured by ``DRIFTLINE_KAFKA__*`` variables.
"""

import os
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer

from monitor.cli.main import main
from monitor.dev.kafka import KafkaUnavailableError, LocalKafka
from monitor.kafka.admin import ensure_topics, internal_topics
from monitor.reference.build import ProfileBuilder
from monitor.reference.io import write_reference
from monitor.reference.profile import ReferenceSet
from monitor.settings import KafkaSettings, ReferenceSettings
from producers.producer import DeliveryProblem, DriftlineProducer
from producers.settings import DEPRECATED_VARIABLES, ProducerSettings
from producers.synthetic import SyntheticModel, send_prediction
from schemas import topics
from schemas.alerts import Alert
from schemas.dead_letter import DeadLetter
from schemas.stats import FeatureStats
from schemas.wire import decode_labels, decode_predictions
from tests.kafka.missing import broker_unavailable
from tests.kafka.processes import start_worker, stop_worker
from tests.kafka.topics import read_events

pytestmark = pytest.mark.kafka

USER, PASSWORD = "driftline", "s3cret-pw"


@pytest.fixture(scope="module")
def sasl_kafka() -> Iterator[LocalKafka]:
    """A local broker whose ``sasl_bootstrap`` listener accepts only ``USER``."""
    broker = LocalKafka(sasl_users={USER: PASSWORD})
    try:
        broker.start()
    except KafkaUnavailableError as error:
        broker_unavailable(str(error), broker="SASL Kafka broker")
    try:
        yield broker
    finally:
        broker.stop()


def unique(name: str) -> str:
    """``name`` with a suffix no other test uses."""
    return f"{name}-{uuid.uuid4().hex[:10]}"


def kafka_settings(broker: LocalKafka, mechanism: str = "PLAIN", **fields: Any) -> KafkaSettings:
    """The monitor's ``kafka`` settings for the SASL listener."""
    return KafkaSettings(
        broker=f"kafka://{broker.sasl_bootstrap}",
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism=mechanism,
        sasl_username=USER,
        sasl_password=PASSWORD,
        **fields,
    )


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-512"])
def test_the_producer_sdk_delivers_over_sasl(sasl_kafka: LocalKafka, mechanism: str) -> None:
    settings = ProducerSettings(
        broker=sasl_kafka.sasl_bootstrap,
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism=mechanism,
        sasl_username=USER,
        sasl_password=PASSWORD,
        predictions_topic=unique("predictions"),
    )
    problems: list[DeliveryProblem] = []
    with DriftlineProducer(settings, on_error=problems.append) as producer:
        event_id = producer.send_prediction("fraud-scorer", {"amount": 12.5}, 0.8)
        assert producer.flush(timeout=30)
    assert problems == []
    messages = read_events(
        sasl_kafka.sasl_bootstrap,
        settings.predictions_topic,
        decode_predictions,
        1,
        **settings.kafka_python_options(),  # a consumer with the same login
    )
    assert [e.event_id for _, batch in messages for e in batch] == [event_id]


def test_the_producer_sdk_reports_a_wrong_password(sasl_kafka: LocalKafka) -> None:
    """Events stay queued, ``on_error`` hears ``retrying``, flush and close say False."""
    settings = ProducerSettings(
        broker=sasl_kafka.sasl_bootstrap,
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="PLAIN",
        sasl_username=USER,
        sasl_password="wrong",
        predictions_topic=unique("predictions"),
        max_block_ms=1000,  # bounds the first connection too (kafka-python: 30 s)
    )
    problems: list[DeliveryProblem] = []
    producer = DriftlineProducer(settings, on_error=problems.append)
    try:
        producer.send_prediction("fraud-scorer", {"amount": 12.5}, 0.8)
        deadline = time.monotonic() + 15
        while not problems and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [(p.kind, p.events) for p in problems[:1]] == [("retrying", 1)]
        assert not producer.flush(timeout=0.5)
        assert producer.stats.sent == 0
    finally:
        delivered = producer.close(timeout=0)
    assert not delivered
    assert ("dropped", 1) in [(p.kind, p.events) for p in problems]  # reported at close
    assert producer.stats.dropped == 1


def test_topics_admin_and_alerts_command_log_in_with_the_kafka_settings(
    sasl_kafka: LocalKafka, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = kafka_settings(sasl_kafka, "SCRAM-SHA-512", topic_suffix=unique(""), partitions=1)
    expected = [name + settings.topic_suffix for name in topics.ALL_TOPICS]
    assert ensure_topics(settings) == expected + internal_topics(settings)
    assert ensure_topics(settings) == []  # it lists the topics it made

    alert = Alert(
        alert_id="a1",
        kind="feature_drift",
        status="firing",
        severity="warning",
        model="fraud-scorer",
        model_version="1",
        subject="amount",
        statistic="psi",
        score=0.3,
        threshold=0.2,
        window={"start": 0, "end": 60, "events": 2000},
        reference={"id": "fraud-scorer/1/ref", "events": 20000},
        detected_at=60,
    )
    alerts_topic = topics.DRIFT_ALERTS + settings.topic_suffix
    producer = KafkaProducer(**settings.kafka_python_options())
    try:
        producer.send(alerts_topic, value=alert.model_dump_json().encode()).get(timeout=30)
    finally:
        producer.close(timeout=10)

    for name, value in {
        "SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "SASL_MECHANISM": "SCRAM-SHA-512",
        "SASL_USERNAME": USER,
        "SASL_PASSWORD": PASSWORD,
    }.items():
        monkeypatch.setenv(f"DRIFTLINE_KAFKA__{name}", value)
    command = ["alerts", "--broker", settings.broker, "--topic", alerts_topic, "--from-start"]
    code = main([*command, "--json", "--idle", "2", "--connect-timeout", "10"])
    assert code == 0
    printed = capsys.readouterr().out.splitlines()
    assert [Alert.model_validate_json(line).alert_id for line in printed] == ["a1"]


@pytest.mark.parametrize("names", ["DRIFTLINE_KAFKA__", "deprecated DRIFTLINE_PRODUCER_"])
def test_the_produce_command_logs_in_with_the_variables_the_worker_reads(
    sasl_kafka: LocalKafka, monkeypatch: pytest.MonkeyPatch, names: str
) -> None:
    """``driftline produce`` (the SDK) takes its login from the ``DRIFTLINE_KAFKA__*``
    variables, like ``worker`` and ``alerts``; the SDK's old names still work, with a
    warning."""
    variables = {
        "DRIFTLINE_KAFKA__BROKER": f"kafka://{sasl_kafka.sasl_bootstrap}",
        "DRIFTLINE_KAFKA__SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "DRIFTLINE_KAFKA__SASL_MECHANISM": "SCRAM-SHA-512",
        "DRIFTLINE_KAFKA__SASL_USERNAME": USER,
        "DRIFTLINE_KAFKA__SASL_PASSWORD": PASSWORD,
    }
    if names.startswith("deprecated"):
        new_names = {new: old for old, new in DEPRECATED_VARIABLES.items()}
        variables = {new_names[name]: value for name, value in variables.items()}
    predictions, labels = unique("predictions"), unique("labels")
    variables |= {
        "DRIFTLINE_PRODUCER_PREDICTIONS_TOPIC": predictions,
        "DRIFTLINE_PRODUCER_LABELS_TOPIC": labels,
    }
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    command = ["produce", "--scenario", "stationary", "--events", "20", "--rate", "0"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main([*command, "--label-delay", "0"]) == 0
    deprecated = sorted(str(w.message).split()[0] for w in caught if w.category is FutureWarning)
    assert deprecated == sorted(name for name in variables if name in DEPRECATED_VARIABLES)

    login = kafka_settings(sasl_kafka, "SCRAM-SHA-512").kafka_python_options()
    sent = read_events(sasl_kafka.sasl_bootstrap, predictions, decode_predictions, 20, **login)
    assert sum(len(batch) for _, batch in sent) == 20
    assert read_events(sasl_kafka.sasl_bootstrap, labels, decode_labels, 20, **login)


def _reference(path: Path) -> None:
    builder = ProfileBuilder("secure-model", "1", ReferenceSettings())
    for event in SyntheticModel("secure-model", seed=1, stream=1).generate(1000)[0]:
        builder.add(event["features"], event["prediction"])
    write_reference(ReferenceSet([builder.build()]), path)


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-512"])
def test_a_worker_configured_by_environment_runs_over_sasl(
    sasl_kafka: LocalKafka, tmp_path: Path, mechanism: str
) -> None:
    suffix = unique("")
    env = os.environ | {
        "DRIFTLINE_KAFKA__BROKER": f"kafka://{sasl_kafka.sasl_bootstrap}",
        "DRIFTLINE_KAFKA__SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "DRIFTLINE_KAFKA__SASL_MECHANISM": mechanism,
        "DRIFTLINE_KAFKA__SASL_USERNAME": USER,
        "DRIFTLINE_KAFKA__SASL_PASSWORD": PASSWORD,
        "DRIFTLINE_KAFKA__TOPIC_SUFFIX": suffix,
        "DRIFTLINE_KAFKA__APP_ID": f"driftline{suffix}",
        "DRIFTLINE_KAFKA__PARTITIONS": "1",
        "DRIFTLINE_WINDOW__SIZE": "100",
        "DRIFTLINE_WINDOW__HOP": "100",
    }
    _reference(tmp_path / "ref.json")
    log = tmp_path / "worker.log"
    worker = start_worker(env, log, tmp_path / "ref.json", timeout=60)
    try:
        assert f"created topics {topics.PREDICTIONS + suffix}" in log.read_text()
        settings = ProducerSettings(
            broker=sasl_kafka.sasl_bootstrap,
            security_protocol="SASL_PLAINTEXT",
            sasl_mechanism="PLAIN",
            sasl_username=USER,
            sasl_password=PASSWORD,
            predictions_topic=topics.PREDICTIONS + suffix,
        )
        with DriftlineProducer(settings) as producer:
            for event in SyntheticModel("secure-model", seed=1).generate(200)[0]:
                send_prediction(producer, event)
            assert producer.flush(timeout=30)
        bad = KafkaProducer(**kafka_settings(sasl_kafka).kafka_python_options())
        try:
            bad.send(settings.predictions_topic, key=b"secure-model", value=b"{oops").get(30)
        finally:
            bad.close(timeout=10)

        login = settings.kafka_python_options()
        stats = read_events(
            sasl_kafka.sasl_bootstrap,
            topics.FEATURE_STATS + suffix,
            lambda value: [FeatureStats.model_validate_json(value)],
            2,
            **login,
        )
        assert [(s.model, s.window.events) for _, [s] in stats] == [("secure-model", 100)] * 2
        letters = read_events(
            sasl_kafka.sasl_bootstrap,
            topics.DEAD_LETTER + suffix,
            lambda value: [DeadLetter.model_validate_json(value)],
            1,
            **login,
        )
        assert [letter.payload for _, [letter] in letters] == ["{oops"]
    finally:
        stop_worker(worker)
