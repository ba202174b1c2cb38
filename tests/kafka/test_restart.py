"""A broker restart mid-stream: every component reconnects, nothing is lost or doubled.

The test runs its own :class:`~monitor.dev.kafka.LocalKafka` (it must not restart the
shared one): two ``driftline worker`` processes sharing two partitions, a
``driftline alerts --follow`` process and the producer SDK sending at a steady pace.
The broker is stopped (a controlled shutdown) while events flow, stays down while the
SDK goes on queueing, and starts again on the same log dir and ports. Afterwards the
window summaries and alerts equal the embedded engine's (no window missing, none
summarised twice with different counts), the follower printed each alert id exactly
once, and the SDK's own counters say every event was delivered.
"""

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaTimeoutError

from monitor.core import Monitor
from monitor.dev.kafka import KafkaUnavailableError, LocalKafka
from monitor.reference.build import ProfileBuilder
from monitor.reference.io import write_reference
from monitor.reference.profile import ReferenceSet
from monitor.settings import MonitorSettings
from producers.producer import DeliveryProblem, DriftlineProducer
from producers.settings import ProducerSettings
from producers.synthetic import Drift, SyntheticModel, interleave, send_prediction
from schemas import topics
from schemas.stats import FeatureStats
from schemas.wire import WirePrediction
from tests.kafka.missing import broker_unavailable

pytestmark = pytest.mark.kafka

SETTINGS = MonitorSettings(window={"size": 200, "hop": 100}, reference={"warmup_events": 1000})
ENV = {
    "DRIFTLINE_WINDOW__SIZE": "200",
    "DRIFTLINE_WINDOW__HOP": "100",
    "DRIFTLINE_REFERENCE__WARMUP_EVENTS": "1000",
}
PARTITIONS = 2
CHUNK, PAUSE = 50, 0.1
"""The SDK is fed CHUNK events every PAUSE seconds (about 500 a second)."""

Window = tuple[str, str, str]  # model, start, end


@pytest.fixture(scope="module")
def broker() -> Iterator[LocalKafka]:
    """A broker of this module alone: its tests stop, pause and restart it."""
    kafka = LocalKafka()
    try:
        kafka.start()
    except KafkaUnavailableError as error:
        broker_unavailable(str(error))
    try:
        yield kafka
    finally:
        kafka.stop()


def _references() -> ReferenceSet:
    builder = ProfileBuilder("drifter", "1", SETTINGS.reference)
    for event in SyntheticModel("drifter", seed=1, stream=1).generate(3000)[0]:
        builder.add(event["features"], event["prediction"])
    return ReferenceSet([builder.build()])  # "steady" warms up on its own first events


def _stream() -> list[dict[str, Any]]:
    drifter = SyntheticModel(
        "drifter",
        seed=1,
        drifts=[
            Drift("mean_shift", 1000, ("num_00",), 1.0),
            Drift("new_category", 2000, ("cat_1",), 0.3),
        ],
    )
    steady = SyntheticModel("steady", seed=2)
    return list(interleave([drifter.generate(3000)[0], steady.generate(3000)[0]]))


def _window(stats: FeatureStats) -> Window:
    return (stats.model, stats.window.start.isoformat(), stats.window.end.isoformat())


class Processes:
    """The worker and follower processes of one test, stopped together at the end."""

    def __init__(self, bootstrap: str, suffix: str, logs: Path) -> None:
        self.env = (
            os.environ
            | ENV
            | {
                "DRIFTLINE_KAFKA__BROKER": f"kafka://{bootstrap}",
                "DRIFTLINE_KAFKA__TOPIC_SUFFIX": suffix,
                "DRIFTLINE_KAFKA__APP_ID": f"driftline{suffix}",
                "DRIFTLINE_KAFKA__PARTITIONS": str(PARTITIONS),
            }
        )
        self.logs = logs
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *arguments: str) -> Path:
        """Run ``driftline ARGUMENTS`` with stdout and stderr to ``<name>.log``."""
        log = self.logs / f"{name}.log"
        with log.open("wb") as out, (self.logs / f"{name}.err").open("wb") as err:
            self.running[name] = subprocess.Popen(
                [sys.executable, "-m", "monitor.cli.main", *arguments],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT if name.startswith("worker") else err,
            )
        return log

    def wait_for(
        self, name: str, text: bytes, timeout: float = 90.0, log: str | None = None
    ) -> None:
        """Until ``text`` is in ``name``'s log (or the file ``log``); fail if it exits first."""
        log_path = self.logs / (log or f"{name}.log")
        deadline = time.monotonic() + timeout
        while text not in log_path.read_bytes():
            process = self.running[name]
            assert process.poll() is None, f"{name} exited:\n{self.tail(name)}"
            assert time.monotonic() < deadline, f"no {text!r} from {name}:\n{self.tail(name)}"
            time.sleep(0.3)

    def alive(self) -> dict[str, int | None]:
        """Exit code of each process (None: still running)."""
        return {name: process.poll() for name, process in self.running.items()}

    def tail(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        for process in self.running.values():
            process.send_signal(signal.SIGINT)  # the follower ends cleanly on Ctrl-C
        for process in self.running.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _members(bootstrap: str, group: str, topic: str) -> list[int]:
    """How many partitions of ``topic`` each member of the workers' group holds."""
    logging.getLogger("kafka.admin").setLevel(logging.ERROR)  # Faust's own metadata
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        described = admin.describe_groups([group])[group]
    finally:
        admin.close()
    return sorted(
        sum(
            len(assigned["partitions"])
            for assigned in member["member_assignment"]["assigned_partitions"]
            if assigned["topic"] == topic
        )
        for member in described["members"]
    )


class Sender(threading.Thread):
    """Feeds the SDK at a steady pace; the last third waits for ``resume``."""

    def __init__(self, producer: DriftlineProducer, events: list[dict[str, Any]]) -> None:
        super().__init__(name="sender", daemon=True)
        self.producer = producer
        self.events = events
        self.sent = 0
        self.resume = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for start in range(0, len(self.events), CHUNK):
                if start >= 2 * len(self.events) // 3:
                    self.resume.wait()
                for event in self.events[start : start + CHUNK]:
                    send_prediction(self.producer, event)
                self.sent = start + CHUNK
                time.sleep(PAUSE)
        except BaseException as error:
            self.error = error


def test_a_broker_restart_loses_and_doubles_nothing(broker: LocalKafka, tmp_path: Path) -> None:
    references = _references()
    stream = _stream()
    expected = Monitor(SETTINGS, references).process_predictions(
        [msgspec.convert(e, WirePrediction) for e in stream]
    )
    expected_windows = {_window(s): s.window.events for s in expected.stats}
    expected_alerts = {a.alert_id for a in expected.alerts}
    assert len(expected_windows) > 40
    assert len(expected_alerts) == 3

    suffix = f"-{uuid.uuid4().hex[:10]}"
    write_reference(references, tmp_path / "ref.json")
    processes = Processes(broker.bootstrap, suffix, tmp_path)
    alert_topics = [topics.DRIFT_ALERTS + suffix, topics.DEGRADATION_ALERTS + suffix]
    problems: list[DeliveryProblem] = []
    settings = ProducerSettings(
        broker=broker.bootstrap, predictions_topic=topics.PREDICTIONS + suffix
    )
    producer = DriftlineProducer(settings, on_error=problems.append)
    try:
        processes.start("worker-1", "worker", "--reference", str(tmp_path / "ref.json"))
        processes.wait_for("worker-1", b"[^Worker]: Ready")  # the first creates the topics
        processes.start("worker-2", "worker", "--reference", str(tmp_path / "ref.json"))
        processes.wait_for("worker-2", b"[^Worker]: Ready")
        group, predictions = f"driftline{suffix}", topics.PREDICTIONS + suffix
        _wait(lambda: _members(broker.bootstrap, group, predictions) == [1, 1], "a 1 + 1 split")
        follow = ["alerts", "--follow", "--from-start", "--json"]
        processes.start("follower", *follow, *(f"--topic={t}" for t in alert_topics))
        # connected before the broker goes (a follower that cannot reach it at start exits)
        processes.wait_for("follower", b"driftline: following", log="follower.err")

        sender = Sender(producer, stream)
        sender.start()
        _wait(lambda: sender.sent >= len(stream) // 3, "a third of the events sent")
        went_down = time.monotonic()
        broker.stop(keep_data=True)  # while the SDK sends and the workers process
        assert sender.sent < 2 * len(stream) // 3
        time.sleep(2.0)
        broker.start()  # same log dir, same ports
        outage = time.monotonic() - went_down
        sender.resume.set()
        sender.join(timeout=120)
        assert sender.error is None
        assert sender.sent >= len(stream)
        assert producer.flush(timeout=120)

        windows = _summaries(broker.bootstrap, topics.FEATURE_STATS + suffix, expected_windows)
        printed = _printed(tmp_path / "follower.log", expected_alerts)
        alive = processes.alive()
    finally:
        try:
            processes.stop()
        finally:
            producer.close(timeout=10)

    assert alive == {"worker-1": None, "worker-2": None, "follower": None}
    # while the broker was down, metadata retries were paced (100 ms), not a busy loop
    for worker in ("worker-1", "worker-2"):
        retries = (tmp_path / f"{worker}.log").read_bytes().count(b"Unable to update metadata")
        assert retries < 100 * outage, f"{worker}: {retries} in {outage:.0f} s"
    # every event delivered once, by the SDK's own counters
    stats = producer.stats
    assert (stats.queued, stats.sent, stats.dropped, stats.failed) == (
        len(stream),
        len(stream),
        0,
        0,
    )
    assert {p.kind for p in problems} <= {"retrying"}
    # each window summarised with the embedded engine's count (repeats only with that count)
    assert {w: counts for w, counts in windows.items() if len(counts) > 1} == {}
    assert {w: counts.pop() for w, counts in windows.items()} == expected_windows
    # each alert printed once by the follower, and they are the embedded engine's
    assert Counter(printed) == Counter(expected_alerts)


def _wait(condition: Any, what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"no {what} after {timeout:.0f} s"
        time.sleep(0.3)


def _summaries(
    bootstrap: str, topic: str, expected: dict[Window, int], timeout: float = 120.0
) -> dict[Window, set[int]]:
    """The event counts each window was summarised with, once every expected window
    came (or time ran out), and whatever else came within 3 s more."""
    counts: dict[Window, set[int]] = defaultdict(set)
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    try:
        deadline = time.monotonic() + timeout
        quiet_until = None
        while quiet_until is None or time.monotonic() < quiet_until:
            for records in consumer.poll(timeout_ms=500).values():
                for record in records:
                    stats = FeatureStats.model_validate_json(record.value)
                    counts[_window(stats)].add(stats.window.events)
            if quiet_until is None and (
                expected.keys() <= counts.keys() or time.monotonic() > deadline
            ):
                quiet_until = time.monotonic() + 3.0
    finally:
        consumer.close()
    return dict(counts)


def _printed(log: Path, expected: set[str], timeout: float = 60.0) -> list[str]:
    """Alert ids the follower printed, once all expected ones are there (and 3 s more)."""

    def ids() -> list[str]:
        lines = log.read_text().splitlines()
        return [json.loads(line)["alert_id"] for line in lines if line.endswith("}")]

    deadline = time.monotonic() + timeout
    while not expected <= set(ids()) and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(3.0)
    return ids()


def test_the_sdk_closed_while_the_broker_is_down_reports_what_it_drops(
    broker: LocalKafka,
) -> None:
    """``close`` returns False and counts the events kafka-python still held as dropped,
    instead of raising kafka-python's ``KafkaTimeoutError`` and leaving its thread."""
    problems: list[DeliveryProblem] = []
    settings = ProducerSettings(
        broker=broker.bootstrap, predictions_topic=f"predictions-{uuid.uuid4().hex}"
    )
    producer = DriftlineProducer(settings, on_error=problems.append)
    producer.send_prediction("restarted", {"x": 1.0}, 0.5)
    assert producer.flush(timeout=30)
    broker.stop(keep_data=True)
    try:
        producer.send_prediction("restarted", {"x": 2.0}, 0.5)
        assert not producer.close(timeout=2)
    finally:
        broker.start()
    stats = producer.stats
    assert (stats.queued, stats.sent, stats.dropped, stats.failed) == (2, 1, 1, 0)
    assert [(p.kind, p.events) for p in problems] == [("dropped", 1)]
    assert not any(t.name.startswith("kafka-python") for t in threading.enumerate())


def test_kafka_python_stops_sending_after_an_expired_batch(broker: LocalKafka) -> None:
    """Why the SDK never lets kafka-python expire its events (``delivery_timeout_ms``).

    In kafka-python 3.0.12, when a batch that had been sent expires, the idempotent
    producer drops its producer id and never asks for a new one: nothing it holds is
    sent again, though the broker is back. The SDK's events would stall for good after
    an outage longer than the 120 s default. Here the broker is paused (SIGSTOP) past a
    5 s delivery timeout. When kafka-python fixes this, this test fails: the SDK may
    then keep a finite delivery timeout again.
    """
    topic = f"driftline-test-{uuid.uuid4().hex[:12]}"
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    try:
        admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        admin.close()
    timeouts = {"request_timeout_ms": 2000, "delivery_timeout_ms": 5000}
    producer = KafkaProducer(
        bootstrap_servers=broker.bootstrap,
        acks="all",
        enable_idempotence=True,
        reconnect_backoff_max_ms=1000,
        **timeouts,
    )
    try:
        assert producer.send(topic, b"before").get(timeout=30).offset == 0
        assert broker.process is not None
        os.kill(broker.process.pid, signal.SIGSTOP)
        try:
            sent = producer.send(topic, b"during")  # sent, times out, retried, expires
            with pytest.raises(KafkaTimeoutError, match="Expiring 1 record"):
                sent.get(timeout=30)
        finally:
            os.kill(broker.process.pid, signal.SIGCONT)
        with pytest.raises(KafkaTimeoutError):
            producer.send(topic, b"after").get(timeout=8)  # stalled (backoff: 1 s at most)
        fresh = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", **timeouts)
        try:
            assert fresh.send(topic, b"fresh").get(timeout=15).offset >= 1  # the broker is up
        finally:
            fresh.close(timeout=10)
    finally:
        producer._sender.force_close()  # close() alone would wait for "after" and raise
        producer._sender.join(timeout=10)
        producer.close(timeout=0)
