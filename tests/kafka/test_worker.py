"""The Kafka engine end to end: Faust workers as real processes on the real broker.

The same recorded stream goes through `driftline worker` (via the producer SDK) and
through the embedded engine; both must raise the same alerts. A worker killed with
SIGKILL halfway is replaced by a new one, which resumes from the changelog-backed
table: still the same alerts, none missing, none counted twice.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import msgspec
import pytest
from kafka.admin import KafkaAdminClient

from monitor.core import Monitor
from monitor.kafka.subscriber import AlertSubscriber
from monitor.reference.build import ProfileBuilder
from monitor.reference.io import write_reference
from monitor.reference.profile import ReferenceSet
from monitor.settings import MonitorSettings
from producers.producer import DriftlineProducer
from producers.settings import ProducerSettings
from producers.synthetic import Drift, SyntheticModel, interleave
from schemas import topics
from schemas.alerts import Alert
from schemas.wire import WirePrediction

pytestmark = pytest.mark.kafka

SETTINGS = {"window": {"size": 1000, "hop": 250}, "reference": {"warmup_events": 1000}}
ENV = {
    "DRIFTLINE_WINDOW__SIZE": "1000",
    "DRIFTLINE_WINDOW__HOP": "250",
    "DRIFTLINE_REFERENCE__WARMUP_EVENTS": "1000",
}


@dataclass
class Deployment:
    """A broker, topics with a unique suffix, and how to run workers on them."""

    bootstrap: str
    suffix: str
    reference: Path
    logs: Path

    def env(self) -> dict[str, str]:
        return (
            os.environ
            | ENV
            | {
                "DRIFTLINE_KAFKA__BROKER": f"kafka://{self.bootstrap}",
                "DRIFTLINE_KAFKA__TOPIC_SUFFIX": self.suffix,
                "DRIFTLINE_KAFKA__APP_ID": f"driftline{self.suffix}",
                "DRIFTLINE_KAFKA__PARTITIONS": "2",
            }
        )

    def start_worker(self, name: str) -> subprocess.Popen[bytes]:
        log = self.logs / f"{name}.log"
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "monitor.cli.main",
                "worker",
                "--reference",
                str(self.reference),
            ],
            env=self.env(),
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 90
        while b"[^Worker]: Ready" not in log.read_bytes():
            assert worker.poll() is None, log.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "worker not ready after 90 s"
            time.sleep(0.5)
        return worker

    def topic(self, name: str) -> str:
        return name + self.suffix

    def send(self, events: list[dict[str, object]]) -> None:
        settings = ProducerSettings(
            bootstrap_servers=self.bootstrap, predictions_topic=self.topic(topics.PREDICTIONS)
        )
        with DriftlineProducer(settings) as producer:
            for e in events:
                producer.send_prediction(
                    e["model"],
                    e["features"],
                    e["prediction"],  # type: ignore[arg-type]
                    model_version=e["model_version"],
                    event_id=e["event_id"],  # type: ignore[arg-type]
                    ts=e["ts"],  # type: ignore[arg-type]
                )
            assert producer.flush(timeout=60)

    def alerts(self, expected: set[str], timeout: float = 120.0) -> set[str]:
        """Ids of drift alerts published, once all expected ones came (or time ran out)."""
        seen: set[str] = set()
        with AlertSubscriber(
            self.bootstrap, from_start=True, topics=[self.topic(topics.DRIFT_ALERTS)]
        ) as subscriber:
            deadline = time.monotonic() + timeout
            while not expected <= seen and time.monotonic() < deadline:
                seen |= {a.alert_id for a in subscriber.poll(timeout=1.0)}
            seen |= {a.alert_id for a in subscriber.poll(timeout=2.0)}  # and no extra
        return seen


@pytest.fixture
def deployment(kafka_bootstrap: str, tmp_path: Path) -> Deployment:
    suffix = f"-{uuid.uuid4().hex[:10]}"  # the first worker creates the topics
    write_reference(REFERENCES, tmp_path / "ref.json")
    return Deployment(kafka_bootstrap, suffix, tmp_path / "ref.json", tmp_path)


def _references() -> ReferenceSet:
    builder = ProfileBuilder("drifter", "1", MonitorSettings(**SETTINGS).reference)
    for event in SyntheticModel("drifter", seed=1, stream=1).generate(3000)[0]:
        builder.add(event["features"], event["prediction"])
    return ReferenceSet([builder.build()])  # "steady" warms up on its own first events


REFERENCES = _references()
STREAM = list(
    interleave(
        [
            SyntheticModel(
                "drifter",
                seed=1,
                drifts=[
                    Drift("mean_shift", 2000, ("num_00",), 1.0),
                    Drift("new_category", 3000, ("cat_1",), 0.3),
                ],
            ).generate(5000)[0],
            SyntheticModel("steady", seed=2).generate(5000)[0],
        ]
    )
)


def embedded(events: list[dict[str, object]]) -> list[Alert]:
    monitor = Monitor(MonitorSettings(**SETTINGS), REFERENCES)
    wire = [msgspec.convert(e, WirePrediction) for e in events]
    return [a for a in monitor.process_predictions(wire).alerts if a.topic == topics.DRIFT_ALERTS]


def test_workers_raise_the_alerts_of_the_embedded_engine(deployment: Deployment) -> None:
    expected = {a.alert_id for a in embedded(STREAM)}
    assert len(expected) >= 3
    worker = deployment.start_worker("worker")
    try:
        deployment.send(STREAM)
        assert deployment.alerts(expected) == expected
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def test_a_killed_worker_is_replaced_without_loss_or_double_counting(
    deployment: Deployment,
) -> None:
    expected = {a.alert_id for a in embedded(STREAM)}
    half = len(STREAM) // 2
    first = deployment.start_worker("first")
    try:
        deployment.send(STREAM[:half])
        before = {a.alert_id for a in embedded(STREAM[:half])}
        assert deployment.alerts(before) >= before  # the first half was processed
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    second = deployment.start_worker("second")
    try:
        deployment.send(STREAM[half:])
        assert deployment.alerts(expected) == expected
    finally:
        second.terminate()
        second.wait(timeout=30)


def test_the_first_worker_creates_the_topics(deployment: Deployment) -> None:
    worker = deployment.start_worker("creator")
    worker.terminate()
    worker.wait(timeout=30)
    admin = KafkaAdminClient(bootstrap_servers=deployment.bootstrap)
    try:
        described = admin.describe_topics([deployment.topic(t) for t in topics.ALL_TOPICS])
    finally:
        admin.close()
    assert {t["name"]: len(t["partitions"]) for t in described} == {
        deployment.topic(t): 2 for t in topics.ALL_TOPICS
    }
