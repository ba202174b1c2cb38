"""Workers killed with SIGKILL at random points lose nothing and count nothing twice.

Two workers (static members ``w0`` and ``w1``) share two partitions. A seeded stream of
predictions of four models goes in blocks of 500 per model; with each block, the labels
of the block before (whose predictions are committed, so applied). At random points
(seeded) a worker is killed: from outside at a random moment after a send, or by itself
(``tests/kafka/killable.py``) after applying a micro-batch and before publishing it,
after a changelog write reached the broker while the rest of its checkpoint had not,
or right after an offset commit; or it raises an exception after applying a batch (a
bug: it must take the batch again, not skip it). A killed worker is restarted at once under its
instance id. After each run every window summarised ((model, start, end, events)) and
every alert id equal the embedded engine's on the same stream: no event lost or counted
twice, no label lost, no alert missing or different. Two runs, ten kills or more each.

The performance tracker's sequential test is off (``performance.detector = "none"``), so
that the labels' alerts come from windows of a few hundred labels that a short stream
fills; its state is plain numbers in the checkpoint (``tests/unit/test_performance.py``
checks that a restored tracker goes on exactly).
"""

import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

from monitor.core import Monitor
from monitor.kafka.admin import by_model_topic
from monitor.kafka.delivery import LogProbe
from monitor.kafka.subscriber import AlertSubscriber
from monitor.reference.profile import ReferenceSet
from monitor.settings import KafkaSettings, MonitorSettings
from producers.producer import DriftlineProducer
from producers.settings import ProducerSettings
from producers.synthetic import Drift, SyntheticModel, interleave, send_prediction
from schemas import topics
from schemas.stats import FeatureStats
from schemas.wire import WireLabel, WirePrediction

pytestmark = pytest.mark.kafka

SETTINGS = {
    "window": {"size": 1000, "hop": 250},
    "reference": {"warmup_events": 1000},
    "performance": {"window": 200, "hop": 100, "baseline_events": 300, "detector": "none"},
}
ENV = {
    "DRIFTLINE_WINDOW__SIZE": "1000",
    "DRIFTLINE_WINDOW__HOP": "250",
    "DRIFTLINE_REFERENCE__WARMUP_EVENTS": "1000",
    "DRIFTLINE_PERFORMANCE__WINDOW": "200",
    "DRIFTLINE_PERFORMANCE__HOP": "100",
    "DRIFTLINE_PERFORMANCE__BASELINE_EVENTS": "300",
    "DRIFTLINE_PERFORMANCE__DETECTOR": "none",
    "DRIFTLINE_KAFKA__PARTITIONS": "2",
    "DRIFTLINE_KAFKA__BATCH_MESSAGES": "8",  # many small batches: many checkpoints to hit
    "BROKER_COMMIT_INTERVAL": "1.0",  # Faust's own setting (2.8 s): commits come sooner
}
BLOCK = 500  # predictions per model and block: a multiple of the hop, so a block's last
# prediction closes a window
BLOCKS = 5
KILLS_PER_ROUND = 2
KILLS_PER_RUN = KILLS_PER_ROUND * (BLOCKS + 1)
STEPS = [("batch", 1, 10), ("changelog", 1, 60), ("commit", 1, 4), ("error", 1, 10)]

Event = dict[str, object]
Window = tuple[str, str, str, int]  # model, start, end, events


def window(stats: FeatureStats) -> Window:
    w = stats.window
    return (stats.model, w.start.isoformat(), w.end.isoformat(), w.events)


def stream(seed: int) -> tuple[list[list[Event]], list[list[Event]]]:
    """Predictions and labels of four models, block by block, in event-time order."""
    models = [
        SyntheticModel(
            "drifts",
            seed=seed,
            drifts=[
                Drift("mean_shift", 1500, ("num_00",), 1.0),
                Drift("accuracy_drop", 1200, (), 0.3),
            ],
        ),
        SyntheticModel("degrades", seed=seed + 1, drifts=[Drift("accuracy_drop", 1000, (), 0.3)]),
        SyntheticModel("steady", seed=seed + 2),
        SyntheticModel("calm", seed=seed + 3),
    ]
    generated = [model.generate(BLOCK * BLOCKS) for model in models]
    blocks = [slice(k * BLOCK, (k + 1) * BLOCK) for k in range(BLOCKS)]
    return (
        [list(interleave(g[0][b] for g in generated)) for b in blocks],
        [list(interleave(g[1][b] for g in generated)) for b in blocks],
    )


def embedded(
    predictions: list[list[Event]], labels: list[list[Event]]
) -> tuple[list[set[Window]], dict[str, str]]:
    """The windows of each block, and every alert (id -> kind), from the embedded engine."""
    monitor = Monitor(MonitorSettings.model_validate(SETTINGS), ReferenceSet([]))
    windows: list[set[Window]] = []
    alerts: dict[str, str] = {}
    for block in predictions:
        out = monitor.process_predictions([msgspec.convert(e, WirePrediction) for e in block])
        windows.append({window(s) for s in out.stats})
        alerts |= {a.alert_id: a.kind for a in out.alerts}
    for block in labels:
        out = monitor.process_labels([msgspec.convert(e, WireLabel) for e in block])
        alerts |= {a.alert_id: a.kind for a in out.alerts}
    return windows, alerts


@dataclass
class Fleet:
    """Two killable workers on topics of their own, restarted as soon as they die."""

    bootstrap: str
    logs: Path
    rng: random.Random
    suffix: str = field(default_factory=lambda: f"-{uuid.uuid4().hex[:10]}")
    workers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    kills: list[str] = field(default_factory=list)

    def topic(self, name: str) -> str:
        return name + self.suffix

    @property
    def group(self) -> str:
        return f"driftline{self.suffix}"

    def start(self, name: str, armed: bool = True) -> None:
        """Start worker ``name``, armed to kill itself at a random step (or not)."""
        env = {
            **ENV,
            "DRIFTLINE_KAFKA__BROKER": f"kafka://{self.bootstrap}",
            "DRIFTLINE_KAFKA__TOPIC_SUFFIX": self.suffix,
            "DRIFTLINE_KAFKA__APP_ID": self.group,
            "DRIFTLINE_KAFKA__INSTANCE_ID": name,
        }
        step, low, high = self.rng.choice(STEPS)
        if armed and self.rng.random() < 0.8:
            env["DRIFTLINE_TEST_KILL"] = f"{step}:{self.rng.randint(low, high)}"
        with (self.logs / f"{name}.log").open("ab") as log:
            log.write(f"--- start {env.get('DRIFTLINE_TEST_KILL', 'unarmed')}\n".encode())
            log.flush()
            self.workers[name] = subprocess.Popen(
                [sys.executable, "-m", "tests.kafka.killable", "worker"],
                env={**os.environ, **env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def ready(self, name: str) -> bool:
        return self.log(name).rsplit("--- start", 1)[-1].count("[^Worker]: Ready") > 0

    def supervise(self) -> None:
        """Restart the workers that died; any death but a SIGKILL fails the test."""
        for name, worker in list(self.workers.items()):
            code = worker.poll()
            if code is None:
                continue
            assert code == -signal.SIGKILL, f"{name} exited with {code}:\n{self.log(name)[-3000:]}"
            last = self.log(name).rsplit("--- start", 1)[-1]
            at = last.split("killable: SIGKILL at ", 1)
            if len(at) == 2:
                self.kills.append(at[1].split("\n", 1)[0].strip())
            self.start(name)

    def up(self) -> list[str]:
        return [n for n, w in self.workers.items() if w.poll() is None and self.ready(n)]

    def kill(self) -> None:
        """SIGKILL a random worker that is up (once one is), from outside."""
        self.wait(lambda: bool(self.up()), "a worker up")
        name = self.rng.choice(self.up())
        self.workers[name].send_signal(signal.SIGKILL)
        self.workers[name].wait(timeout=30)
        self.kills.append("outside")
        self.supervise()

    def wait(self, condition: Callable[[], bool], what: str, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            self.supervise()
            assert time.monotonic() < deadline, f"no {what} after {timeout:.0f} s: {self.kills}"
            time.sleep(0.3)

    def send(self, events: list[Event]) -> None:
        settings = ProducerSettings(
            broker=self.bootstrap,
            predictions_topic=self.topic(topics.PREDICTIONS),
            labels_topic=self.topic(topics.LABELS),
            batch_events=20,  # many messages, as many services would send
            linger_ms=5,
        )
        with DriftlineProducer(settings) as producer:
            for e in events:
                if "features" in e:
                    send_prediction(producer, e)
                else:
                    producer.send_label(e["model"], e["event_id"], e["label"], ts=e["ts"])  # type: ignore[arg-type]
            assert producer.flush(timeout=60)

    def committed(self, admin: KafkaAdminClient, consumer: KafkaConsumer, markers: int = 0) -> bool:
        """Whether the group committed every prediction sent so far, at both stages (so
        routed, then applied and checkpointed); ``markers``: offsets at the end of the
        input partitions that hold no record (a transaction's commit marker)."""
        offsets = admin.list_group_offsets({self.group: None})[self.group]
        done = {tp: o.offset for tp, o in offsets.items()}
        settings = KafkaSettings(app_id=self.group, topic_suffix=self.suffix)
        routed = by_model_topic(settings, "predictions")
        read = [self.topic(topics.PREDICTIONS), routed]
        ends = consumer.end_offsets([TopicPartition(t, p) for t in read for p in (0, 1)])
        return all(
            done.get(tp, 0) >= end - (markers if tp.topic != routed and end else 0)
            for tp, end in ends.items()
        )

    def stop(self) -> None:
        for worker in self.workers.values():
            worker.kill()
            worker.wait(timeout=30)


def run(bootstrap: str, logs: Path, seed: int) -> list[str]:
    """One run of the stream with kills; the kills, after checking the outputs."""
    predictions, labels = stream(seed)
    expected_windows, kinds = embedded(predictions, labels)
    assert {"feature_drift", "performance_degradation"} <= set(kinds.values())
    expected_alerts = set(kinds)
    rng = random.Random(seed)
    fleet = Fleet(bootstrap, logs, rng)
    seen: set[Window] = set()
    stats = KafkaConsumer(
        fleet.topic(topics.FEATURE_STATS), bootstrap_servers=bootstrap, auto_offset_reset="earliest"
    )
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    ends = KafkaConsumer(bootstrap_servers=bootstrap)

    def windows(expected: set[Window]) -> Callable[[], bool]:
        def arrived() -> bool:
            for records in stats.poll(timeout_ms=200).values():
                seen.update(window(FeatureStats.model_validate_json(r.value)) for r in records)
            return expected <= seen

        return arrived

    def wait_windows(expected: set[Window], what: str) -> None:
        try:
            fleet.wait(windows(expected), what)
        except AssertionError:  # say which: a window missing means events lost
            assert expected <= seen, (what, sorted(expected - seen), sorted(seen - expected))
            raise

    try:
        for name in ("w0", "w1"):
            fleet.start(name)
        fleet.wait(lambda: all(fleet.ready(n) for n in fleet.workers), "workers ready")
        expected: set[Window] = set()
        for k in range(BLOCKS + 1):
            if k:
                fleet.wait(lambda: fleet.committed(admin, ends), f"block {k - 1} committed")
            before = len(fleet.kills)
            fleet.send((labels[k - 1] if k else []) + (predictions[k] if k < BLOCKS else []))
            for _ in range(KILLS_PER_ROUND):  # from outside, unless they killed themselves
                time.sleep(rng.uniform(0.0, 1.0))
                fleet.supervise()
                if len(fleet.kills) - before < KILLS_PER_ROUND:
                    fleet.kill()
            expected |= expected_windows[k] if k < BLOCKS else set()
            wait_windows(expected, f"the windows of block {k}")
        everything = set().union(*expected_windows)
        wait_windows(everything, "every window")
        with AlertSubscriber(
            bootstrap,
            from_start=True,
            topics=[fleet.topic(topics.DRIFT_ALERTS), fleet.topic(topics.DEGRADATION_ALERTS)],
        ) as subscriber:
            alerts: set[str] = set()

            def alerted() -> bool:
                alerts.update(a.alert_id for a in subscriber.poll(timeout=1.0))
                return expected_alerts <= alerts

            fleet.wait(alerted, "every alert")
            alerts |= {a.alert_id for a in subscriber.poll(timeout=2.0)}  # and no other
        windows(everything)()
        assert seen == everything, (sorted(seen - everything), sorted(everything - seen))
        assert alerts == expected_alerts, (alerts - expected_alerts, expected_alerts - alerts)
    finally:
        fleet.stop()
        stats.close()
        ends.close()
        admin.close()
    return fleet.kills


@pytest.mark.parametrize("seed", [11, 12])
def test_workers_killed_at_random_points_lose_nothing(
    kafka_bootstrap: str, tmp_path: Path, seed: int
) -> None:
    kills = run(kafka_bootstrap, tmp_path, seed)
    errors = sum(log.read_text().count("killable: raising at") for log in tmp_path.glob("*.log"))
    print(f"seed {seed}: {len(kills)} kills {kills}, {errors} batches failed")
    assert len(kills) >= KILLS_PER_RUN, kills


def test_the_probe_finds_the_next_record_past_transaction_markers(
    kafka_bootstrap: str, kafka_topic: str
) -> None:
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    admin.create_topics([NewTopic(kafka_topic, 1, 1)])
    admin.close()
    producer = KafkaProducer(
        bootstrap_servers=kafka_bootstrap, transactional_id=f"probe-{uuid.uuid4().hex}"
    )
    producer.init_transactions()
    for value in (b"a", b"b"):  # each commit writes a marker after its record
        producer.begin_transaction()
        producer.send(kafka_topic, value, partition=0)
        producer.commit_transaction()
    producer.close()
    probe = LogProbe({"bootstrap_servers": [kafka_bootstrap]}, timeout=3.0)
    try:
        assert [probe.first(kafka_topic, 0, o) for o in range(4)] == [0, 2, 2, None]
    finally:
        probe.close()


def test_records_between_transaction_markers_are_all_applied(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """A transactional producer leaves a marker at an offset after each commit: the
    worker passes those offsets, applies every record and commits to the end."""
    events = SyntheticModel("transacted", seed=3).generate(2500)[0]
    expected, _ = embedded([events], [[]])
    fleet = Fleet(kafka_bootstrap, tmp_path, random.Random(0))
    fleet.start("w0", armed=False)
    producer = KafkaProducer(
        bootstrap_servers=kafka_bootstrap, transactional_id=f"driftline-{uuid.uuid4().hex}"
    )
    seen: set[Window] = set()
    stats = KafkaConsumer(
        fleet.topic(topics.FEATURE_STATS),
        bootstrap_servers=kafka_bootstrap,
        auto_offset_reset="earliest",
    )
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    ends = KafkaConsumer(bootstrap_servers=kafka_bootstrap)
    try:
        fleet.wait(lambda: fleet.ready("w0"), "worker ready")
        producer.init_transactions()
        for start in range(0, len(events), 25):
            producer.begin_transaction()
            batch = msgspec.json.encode(events[start : start + 25])
            producer.send(fleet.topic(topics.PREDICTIONS), batch, key=b"transacted")
            producer.commit_transaction()

        def arrived() -> bool:
            for records in stats.poll(timeout_ms=200).values():
                seen.update(window(FeatureStats.model_validate_json(r.value)) for r in records)
            return expected[0] <= seen

        fleet.wait(arrived, "every window")
        fleet.wait(lambda: fleet.committed(admin, ends, markers=1), "every record committed")
        assert seen == expected[0]
    finally:
        producer.close()
        fleet.stop()
        stats.close()
        ends.close()
        admin.close()
