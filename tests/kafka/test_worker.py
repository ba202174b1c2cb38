"""The Kafka engine end to end: Faust workers as real processes on the real broker.

The same recorded stream goes through `driftline worker` (via the producer SDK) and
through the embedded engine; both must raise the same alerts. A worker killed with
SIGKILL halfway is replaced by a new one, which resumes from the changelog-backed
table: still the same alerts, none missing, none counted twice. Two workers in one
consumer group share four partitions; one is killed mid-stream, the other takes its
partitions over, the killed one comes back and recovers its share from the changelog,
and labels sent afterwards still find their predictions: the same windows (so no
event missing or counted twice) and the same alerts as the embedded engine.
"""

import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import pytest
from kafka import KafkaConsumer
from kafka.admin import KafkaAdminClient

from monitor.core import Monitor
from monitor.errors import ConfigError
from monitor.kafka.admin import ensure_topics, internal_topics
from monitor.kafka.subscriber import AlertSubscriber
from monitor.reference.build import ProfileBuilder
from monitor.reference.io import write_reference
from monitor.reference.profile import ReferenceSet
from monitor.settings import KafkaSettings, MonitorSettings
from producers.producer import DriftlineProducer
from producers.settings import ProducerSettings
from producers.synthetic import Drift, SyntheticModel, interleave, send_prediction
from schemas import topics
from schemas.alerts import Alert
from schemas.stats import FeatureStats
from schemas.wire import WireLabel, WirePrediction, event_seconds

pytestmark = pytest.mark.kafka

SETTINGS = {
    "window": {"size": 1000, "hop": 250},
    "reference": {"warmup_events": 1000},
    "performance": {"baseline_events": 1000},  # a short stream: a baseline of 1,000 labels
}
ENV = {
    "DRIFTLINE_WINDOW__SIZE": "1000",
    "DRIFTLINE_WINDOW__HOP": "250",
    "DRIFTLINE_REFERENCE__WARMUP_EVENTS": "1000",
    "DRIFTLINE_PERFORMANCE__BASELINE_EVENTS": "1000",
}


Window = tuple[str, str, str, int]  # model, start, end, events


def window(stats: FeatureStats) -> Window:
    w = stats.window
    return (stats.model, w.start.isoformat(), w.end.isoformat(), w.events)


@dataclass
class Deployment:
    """A broker, topics with a unique suffix, and how to run workers on them."""

    bootstrap: str
    suffix: str
    reference: Path
    logs: Path
    partitions: int = 2
    settings: dict[str, str] = field(default_factory=dict)  # DRIFTLINE_* variables

    def env(self) -> dict[str, str]:
        return (
            os.environ
            | ENV
            | self.settings
            | {
                "DRIFTLINE_KAFKA__BROKER": f"kafka://{self.bootstrap}",
                "DRIFTLINE_KAFKA__TOPIC_SUFFIX": self.suffix,
                "DRIFTLINE_KAFKA__APP_ID": f"driftline{self.suffix}",
                "DRIFTLINE_KAFKA__PARTITIONS": str(self.partitions),
            }
        )

    def start_worker(self, name: str, python: tuple[str, ...] = ()) -> subprocess.Popen[bytes]:
        """A worker process, once it is ready; ``python`` runs first, e.g. ``("-c", ...)``
        options that patch a library, then the worker's main."""
        log = self.logs / f"{name}.log"
        main = python or ("-m", "monitor.cli.main")
        worker = subprocess.Popen(
            [sys.executable, *main, "worker", "--reference", str(self.reference)],
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
            broker=self.bootstrap,
            predictions_topic=self.topic(topics.PREDICTIONS),
            labels_topic=self.topic(topics.LABELS),
        )
        with DriftlineProducer(settings) as producer:
            for e in events:
                if "features" not in e:
                    producer.send_label(e["model"], e["event_id"], e["label"], ts=e["ts"])  # type: ignore[arg-type]
                    continue
                send_prediction(producer, e)
            assert producer.flush(timeout=60)

    def windows(self, expected: set[Window], timeout: float = 120.0) -> set[Window]:
        """Windows summarised on the feature-stats topic, once all expected ones came."""
        seen: set[Window] = set()
        consumer = KafkaConsumer(
            self.topic(topics.FEATURE_STATS),
            bootstrap_servers=self.bootstrap,
            auto_offset_reset="earliest",
        )
        try:
            deadline = time.monotonic() + timeout
            while not expected <= seen and time.monotonic() < deadline:
                for records in consumer.poll(timeout_ms=1000).values():
                    seen |= {window(FeatureStats.model_validate_json(r.value)) for r in records}
        finally:
            consumer.close()
        return seen

    def members(self) -> list[set[int]]:
        """The prediction partitions of each member of the workers' consumer group."""
        logging.getLogger("kafka.admin").setLevel(logging.ERROR)  # Faust's own metadata
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap)
        try:
            group = admin.describe_groups([f"driftline{self.suffix}"])[f"driftline{self.suffix}"]
        finally:
            admin.close()
        topic = self.topic(topics.PREDICTIONS)
        return [
            {
                partition
                for assigned in member["member_assignment"]["assigned_partitions"]
                if assigned["topic"] == topic
                for partition in assigned["partitions"]
            }
            for member in group["members"]
        ]

    def alerts(self, expected: set[str], timeout: float = 120.0) -> set[str]:
        """Ids of alerts published, once all expected ones came (or time ran out)."""
        seen: set[str] = set()
        with AlertSubscriber(
            self.bootstrap,
            from_start=True,
            topics=[self.topic(topics.DRIFT_ALERTS), self.topic(topics.DEGRADATION_ALERTS)],
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


def _scaled_stream() -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """Predictions and labels of four models, one on each of four partitions (murmur2
    of the key, as the SDK's producer partitions): model-a drifts and degrades."""
    drifting = SyntheticModel(
        "model-a",
        seed=1,
        drifts=[Drift("mean_shift", 1500, ("num_00",), 1.0), Drift("accuracy_drop", 1000, (), 0.3)],
    )
    steady = [SyntheticModel(f"model-{c}", seed=i) for i, c in enumerate("bch", 2)]
    generated = [model.generate(3000) for model in [drifting, *steady]]
    return list(interleave(g[0] for g in generated)), list(interleave(g[1] for g in generated))


def test_two_workers_share_partitions_and_survive_a_kill(deployment: Deployment) -> None:
    predictions, labels = _scaled_stream()
    monitor = Monitor(MonitorSettings(**SETTINGS), REFERENCES)
    out = monitor.process_predictions([msgspec.convert(e, WirePrediction) for e in predictions])
    quarter = {window(s) for s in out.stats if s.window.end.timestamp() < _ts(predictions, 0.25)}
    expected_windows = {window(s) for s in out.stats}
    out += monitor.process_labels([msgspec.convert(e, WireLabel) for e in labels])
    expected_alerts = {a.alert_id for a in out.alerts}
    assert {a.kind for a in out.alerts} == {"feature_drift", "performance_degradation"}

    deployment.partitions = 4
    first, second = deployment.start_worker("first"), deployment.start_worker("second")
    workers = [first, second]
    try:
        _wait_for(lambda: sorted(map(len, deployment.members())) == [2, 2], "a 2 + 2 split")
        deployment.send(predictions[: len(predictions) // 2])
        assert deployment.windows(quarter) >= quarter
        first.send_signal(signal.SIGKILL)  # mid-stream: some of its work is not committed
        first.wait(timeout=30)
        deployment.send(predictions[len(predictions) // 2 :])
        # the second takes over once the group drops the first (a 60 s session timeout)
        assert deployment.windows(expected_windows, timeout=180) == expected_windows
        workers.append(deployment.start_worker("restarted"))
        _wait_for(lambda: sorted(map(len, deployment.members())) == [2, 2], "a new 2 + 2 split")
        deployment.send(labels)  # joined to predictions restored from the changelogs
        assert deployment.alerts(expected_alerts) == expected_alerts
        assert deployment.windows(expected_windows) == expected_windows  # nothing counted twice
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=30)


def _ts(events: list[dict[str, object]], share: float) -> float:
    return event_seconds(msgspec.convert(events[int(len(events) * share)], WirePrediction).ts)


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"no {what} after {timeout:.0f} s"
        time.sleep(1.0)


def test_workers_started_together_both_get_their_topics(kafka_bootstrap: str) -> None:
    """Two workers list the topics, see none, and both create them: not an error."""
    settings = KafkaSettings(
        broker=f"kafka://{kafka_bootstrap}", topic_suffix=f"-{uuid.uuid4().hex[:10]}"
    )
    start = threading.Barrier(2)
    created: list[list[str]] = []

    def create() -> None:
        start.wait()
        created.append(ensure_topics(settings))

    racers = [threading.Thread(target=create) for _ in range(2)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(timeout=60)
    assert len(created) == 2  # neither raised
    assert sorted(created[0] + created[1]) == sorted(
        [t + settings.topic_suffix for t in topics.ALL_TOPICS] + internal_topics(settings)
    )
    assert ensure_topics(settings) == []


def test_internal_topics_with_other_partitions_are_a_clear_error(kafka_bootstrap: str) -> None:
    """The by-model topics must have as many partitions as the state's changelog."""
    settings = KafkaSettings(
        broker=f"kafka://{kafka_bootstrap}",
        topic_suffix=f"-{uuid.uuid4().hex[:10]}",
        partitions=2,
    )
    assert ensure_topics(settings)
    grown = settings.model_copy(update={"partitions": 3})
    with pytest.raises(ConfigError, match=r"has 2 partitions but kafka.partitions is 3"):
        ensure_topics(grown)
