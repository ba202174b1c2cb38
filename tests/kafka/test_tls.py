"""The TLS settings against a real broker with ``SSL`` and ``SASL_SSL`` listeners.

The module starts its own :class:`~monitor.dev.kafka.LocalKafka` with ``tls=True``
(a CA and a broker certificate made with openssl) and SASL users, whatever
``KAFKA_BOOTSTRAP_SERVERS`` says. Over each protocol: the producer SDK delivers and a
consumer reads; a ``driftline worker`` configured by ``DRIFTLINE_KAFKA__*`` variables
publishes the window summaries and alerts of the embedded engine; ``driftline alerts``
prints them. A CA that did not sign the broker's certificate is a clear error at once
in the SDK, ``driftline alerts`` and ``driftline worker``, not a wait or a hang.
"""

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from monitor.core import Monitor
from monitor.dev.kafka import KafkaUnavailableError, LocalKafka, make_certificates
from monitor.kafka.subscriber import AlertSubscriber
from monitor.reference.build import ProfileBuilder
from monitor.reference.io import write_reference
from monitor.reference.profile import ReferenceSet
from monitor.settings import MonitorSettings
from producers.producer import DeliveryProblem, DriftlineProducer
from producers.security import TLSError
from producers.settings import ProducerSettings
from producers.synthetic import Drift, SyntheticModel, send_prediction
from schemas import topics
from schemas.stats import FeatureStats
from schemas.wire import WirePrediction, decode_predictions
from tests.kafka.missing import broker_unavailable
from tests.kafka.processes import start_worker, stop_worker
from tests.kafka.topics import read_events

pytestmark = pytest.mark.kafka

USER, PASSWORD = "driftline", "tls-pw"
PROTOCOLS = ["SSL", "SASL_SSL"]
MODEL = "tls-model"
WINDOW = {"DRIFTLINE_WINDOW__SIZE": "200", "DRIFTLINE_WINDOW__HOP": "100"}
SETTINGS = MonitorSettings(window={"size": 200, "hop": 100})


@pytest.fixture(scope="module")
def tls_kafka() -> Iterator[LocalKafka]:
    """A local broker with ``SSL`` and ``SASL_SSL`` listeners (``USER`` may log in)."""
    broker = LocalKafka(tls=True, sasl_users={USER: PASSWORD})
    try:
        broker.start()
    except KafkaUnavailableError as error:
        broker_unavailable(str(error), broker="TLS Kafka broker")
    try:
        yield broker
    finally:
        broker.stop()


def unique(name: str) -> str:
    """``name`` with a suffix no other test uses."""
    return f"{name}-{uuid.uuid4().hex[:10]}"


def login(broker: LocalKafka, protocol: str, cafile: Path | None = None) -> dict[str, str]:
    """Security fields shared by ProducerSettings and KafkaSettings, over ``protocol``."""
    fields = {"security_protocol": protocol, "ssl_cafile": str(cafile or broker.ca_file)}
    if protocol == "SASL_SSL":
        fields |= {"sasl_mechanism": "SCRAM-SHA-512", "sasl_username": USER}
        fields |= {"sasl_password": PASSWORD}
    return fields


def address(broker: LocalKafka, protocol: str) -> str:
    """The listener of ``protocol``."""
    return broker.ssl_bootstrap if protocol == "SSL" else broker.sasl_ssl_bootstrap


def environment(broker: LocalKafka, protocol: str, cafile: Path | None = None) -> dict[str, str]:
    """``DRIFTLINE_KAFKA__*`` variables that make the monitor connect over ``protocol``."""
    return {
        f"DRIFTLINE_KAFKA__{name.upper()}": value
        for name, value in login(broker, protocol, cafile).items()
    } | {"DRIFTLINE_KAFKA__BROKER": f"kafka://{address(broker, protocol)}"}


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_the_producer_sdk_delivers_over_tls(tls_kafka: LocalKafka, protocol: str) -> None:
    settings = ProducerSettings(
        broker=address(tls_kafka, protocol),
        predictions_topic=unique("predictions"),
        **login(tls_kafka, protocol),  # type: ignore[arg-type]
    )
    problems: list[DeliveryProblem] = []
    with DriftlineProducer(settings, on_error=problems.append) as producer:
        sent = [producer.send_prediction(MODEL, {"amount": float(i)}, 0.5) for i in range(3)]
        assert producer.flush(timeout=30)
    assert problems == []
    assert producer.stats.sent == 3
    messages = read_events(
        settings.broker,
        settings.predictions_topic,
        decode_predictions,
        3,
        **settings.kafka_python_options(),  # a consumer over the same protocol
    )
    assert [e.event_id for _, batch in messages for e in batch] == sent


def _stream() -> list[dict[str, Any]]:
    """400 events of a model drifting from the start: three windows, four alerts (out of
    range and a location shift on num_00, a new category and its distance on cat_1)."""
    drifts = [Drift("mean_shift", 0, ("num_00",), 2.0), Drift("new_category", 0, ("cat_1",), 0.5)]
    return SyntheticModel(MODEL, seed=1, drifts=drifts).generate(400)[0]


def _references() -> ReferenceSet:
    builder = ProfileBuilder(MODEL, "1", SETTINGS.reference)
    for event in SyntheticModel(MODEL, seed=1, stream=1).generate(2000)[0]:
        builder.add(event["features"], event["prediction"])
    return ReferenceSet([builder.build()])


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_worker_and_the_alerts_command_run_over_tls(
    tls_kafka: LocalKafka, tmp_path: Path, protocol: str
) -> None:
    references = _references()
    stream = _stream()
    expected = Monitor(SETTINGS, references).process_predictions(
        [msgspec.convert(e, WirePrediction) for e in stream]
    )
    expected_windows = {(s.window.start, s.window.end, s.window.events) for s in expected.stats}
    expected_alerts = {a.alert_id for a in expected.alerts}
    assert len(expected_windows) == 3
    assert len(expected_alerts) == 4

    suffix = unique("")
    env = (
        os.environ
        | environment(tls_kafka, protocol)
        | WINDOW
        | {
            "DRIFTLINE_KAFKA__TOPIC_SUFFIX": suffix,
            "DRIFTLINE_KAFKA__APP_ID": f"driftline{suffix}",
            "DRIFTLINE_KAFKA__PARTITIONS": "1",
        }
    )
    write_reference(references, tmp_path / "ref.json")
    worker = start_worker(env, tmp_path / "worker.log", tmp_path / "ref.json")
    try:
        settings = ProducerSettings(
            broker=address(tls_kafka, protocol),
            predictions_topic=topics.PREDICTIONS + suffix,
            **login(tls_kafka, protocol),  # type: ignore[arg-type]
        )
        with DriftlineProducer(settings) as producer:
            for event in stream:
                send_prediction(producer, event)
            assert producer.flush(timeout=30)

        stats = read_events(
            settings.broker,
            topics.FEATURE_STATS + suffix,
            lambda value: [FeatureStats.model_validate_json(value)],
            len(expected_windows),
            timeout=60,
            **settings.kafka_python_options(),
        )
        windows = {(s.window.start, s.window.end, s.window.events) for _, [s] in stats}
        assert windows == expected_windows
        alert_topics = [topics.DRIFT_ALERTS + suffix, topics.DEGRADATION_ALERTS + suffix]
        seen: set[str] = set()
        with AlertSubscriber(settings, from_start=True, topics=alert_topics) as subscriber:
            deadline = time.monotonic() + 60
            while not expected_alerts <= seen and time.monotonic() < deadline:
                seen |= {a.alert_id for a in subscriber.poll(timeout=1.0)}
        assert seen == expected_alerts
    finally:
        stop_worker(worker)

    command = [sys.executable, "-m", "monitor.cli.main", "alerts", "--from-start", "--json"]
    for topic in alert_topics:
        command += ["--topic", topic]
    printed = subprocess.run(
        [*command, "--idle", "2"], env=env, capture_output=True, text=True, timeout=60
    )
    assert printed.returncode == 0, printed.stderr
    assert sorted(json.loads(line)["alert_id"] for line in printed.stdout.splitlines()) == sorted(
        expected_alerts
    )


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_wrong_ca_is_a_clear_error_at_once(
    tls_kafka: LocalKafka, tmp_path: Path, protocol: str
) -> None:
    """A CA that did not sign the broker's certificate: each client says so and stops
    (the SDK keeps the events and reports the TLSError), none waits for its timeout."""
    wrong = make_certificates(tmp_path / "other-ca").ca_file
    reason = "presented a certificate not verified by ssl_cafile="

    settings = ProducerSettings(
        broker=address(tls_kafka, protocol),
        predictions_topic=unique("predictions"),
        max_block_ms=1000,
        **login(tls_kafka, protocol, wrong),  # type: ignore[arg-type]
    )
    problems: list[DeliveryProblem] = []
    producer = DriftlineProducer(settings, on_error=problems.append)
    try:
        producer.send_prediction(MODEL, {"amount": 1.0}, 0.5)
        deadline = time.monotonic() + 15
        while not problems and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [p.kind for p in problems[:1]] == ["retrying"]
        assert isinstance(problems[0].error, TLSError)
        assert reason + str(wrong) in str(problems[0].error)
        assert producer.stats.sent == 0
    finally:
        producer.close(timeout=0)

    env = os.environ | environment(tls_kafka, protocol, wrong)
    commands = [
        subprocess.Popen(
            [sys.executable, "-m", "monitor.cli.main", *command],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for command in (["alerts", "--follow"], ["worker"])
    ]
    for command in commands:
        try:
            _, stderr = command.communicate(timeout=120)
        finally:
            command.kill()
        assert command.returncode == 2, stderr[-2000:]
        assert stderr.startswith("driftline: error: cannot connect to Kafka: the broker at")
        assert f"{reason}{wrong}: self-signed certificate in certificate chain" in stderr
