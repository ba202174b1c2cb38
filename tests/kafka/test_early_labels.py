"""Labels that overtake their predictions, through a Kafka worker on the real broker.

A model's labels are sent first and applied by the worker (its group's committed
offsets reach the end of the label topic, then of the labels-by-model topic it routes
them through) before any of its predictions is sent: the
worker holds them, joins them as the predictions come, and raises the performance
alerts and windows of the embedded engine fed predictions first. Five labels whose
predictions never come expire, show in the window summaries and in the worker's log.
"""

import re
import time

import msgspec
import pytest
from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient

from monitor.core import Monitor
from monitor.kafka.admin import by_model_topic
from monitor.settings import KafkaSettings, MonitorSettings
from producers.synthetic import Drift, SyntheticModel
from schemas import topics
from schemas.stats import FeatureStats
from schemas.wire import WireLabel, WirePrediction, event_seconds
from tests.kafka.test_worker import REFERENCES, SETTINGS, Deployment, window
from tests.kafka.test_worker import deployment as deployment  # the fixture

pytestmark = pytest.mark.kafka

MODEL = "late-truth"
TTL = 60.0  # seconds of event time a held label waits


def _stream() -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """3,000 predictions whose accuracy drops at 1,500; their labels (60 s late) after
    five labels of predictions that never come."""
    model = SyntheticModel(
        MODEL, seed=3, label_delay=60.0, drifts=[Drift("accuracy_drop", 1500, (), 0.3)]
    )
    predictions, labels = model.generate(3000)
    strays: list[dict[str, object]] = [
        {"event_id": f"never-{i}", "model": MODEL, "ts": predictions[0]["ts"], "label": True}
        for i in range(5)
    ]
    return predictions, strays + labels


def _consumed(deployment: Deployment, topic: str) -> bool:
    """Whether the workers' group committed every message of ``topic``."""
    group = f"driftline{deployment.suffix}"
    admin = KafkaAdminClient(bootstrap_servers=deployment.bootstrap)
    consumer = KafkaConsumer(bootstrap_servers=deployment.bootstrap)
    try:
        committed = admin.list_group_offsets({group: None}).get(group, {})
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        ends = consumer.end_offsets(partitions)
    finally:
        consumer.close()
        admin.close()
    return all(
        end == 0 or (tp in committed and committed[tp].offset >= end) for tp, end in ends.items()
    )


def _summaries(deployment: Deployment, count: int, timeout: float = 120.0) -> list[FeatureStats]:
    """The first ``count`` window summaries on the feature-stats topic."""
    consumer = KafkaConsumer(
        deployment.topic(topics.FEATURE_STATS),
        bootstrap_servers=deployment.bootstrap,
        auto_offset_reset="earliest",
    )
    seen: list[FeatureStats] = []
    try:
        deadline = time.monotonic() + timeout
        while len(seen) < count and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=1000).values():
                seen += [FeatureStats.model_validate_json(r.value) for r in records]
    finally:
        consumer.close()
    return seen


def test_labels_sent_before_their_predictions_are_joined_by_the_worker(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    predictions, labels = _stream()
    performance = {**SETTINGS["performance"], "early_label_ttl": TTL}
    settings = MonitorSettings(**{**SETTINGS, "performance": performance})
    embedded = Monitor(settings, REFERENCES)  # predictions first, labels after
    out = embedded.process_predictions([msgspec.convert(e, WirePrediction) for e in predictions])
    out += embedded.process_labels([msgspec.convert(e, WireLabel) for e in labels])
    expected_alerts = {a.alert_id for a in out.alerts}
    assert "performance_degradation" in {a.kind for a in out.alerts}
    expected_windows = {window(s) for s in out.stats}
    last = max(s.window.end for s in out.stats)  # the last window ends at the last event
    assert last.timestamp() == event_seconds(msgspec.convert(predictions[-1], WirePrediction).ts)

    monkeypatch.setenv("DRIFTLINE_PERFORMANCE__EARLY_LABEL_TTL", str(TTL))
    worker = deployment.start_worker("worker")
    try:
        deployment.send(labels)
        kafka = KafkaSettings(
            app_id=f"driftline{deployment.suffix}", topic_suffix=deployment.suffix
        )
        deadline = time.monotonic() + 120
        for stage in (deployment.topic(topics.LABELS), by_model_topic(kafka, "labels")):
            while not _consumed(deployment, stage):  # routed by model, then applied
                assert time.monotonic() < deadline, f"labels not through {stage} after 120 s"
                time.sleep(1.0)
        deployment.send(predictions)
        assert deployment.alerts(expected_alerts) == expected_alerts
        assert deployment.windows(expected_windows) == expected_windows
        summaries = _summaries(deployment, len(expected_windows))
    finally:
        worker.terminate()
        worker.wait(timeout=30)

    final = next(s for s in summaries if s.window.end == last)
    assert final.label_join is not None
    assert final.label_join.model_dump() == {
        "labels_matched": 3000,
        "labels_held": 0,
        "labels_expired": 5,  # the predictions of the five strays never came
        "labels_evicted": 0,
        "predictions_expired": 0,
        "predictions_evicted": 0,
    }
    log = (deployment.logs / "worker.log").read_text(errors="replace")
    assert re.search(rf"label join of model {MODEL}: .* 5 unmatched \(5 expired, 0 evicted\)", log)
