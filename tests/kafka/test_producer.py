"""The producer SDK against a real broker: every event arrives once, in batch messages
keyed by model, on the right topic, and the monitor's decoders accept them."""

import shutil
import subprocess
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from producers.producer import DriftlineProducer
from producers.settings import ProducerSettings
from producers.synthetic import SyntheticModel, send_prediction
from schemas.wire import decode_labels, decode_metrics, decode_predictions
from tests.kafka.missing import broker_unavailable
from tests.kafka.topics import read_events

pytestmark = pytest.mark.kafka


def fresh_topics(
    bootstrap: str, new_topic_name: Callable[[], str], **settings: Any
) -> ProducerSettings:
    """Producer settings whose three topics are new to this test."""
    return ProducerSettings(
        broker=bootstrap,
        predictions_topic=new_topic_name(),
        labels_topic=new_topic_name(),
        metrics_topic=new_topic_name(),
        **settings,
    )


def test_events_arrive_once_in_batches_keyed_by_model(
    kafka_bootstrap: str, new_topic_name: Callable[[], str]
) -> None:
    settings = fresh_topics(kafka_bootstrap, new_topic_name, batch_events=100)
    models = [SyntheticModel(f"model-{k}", seed=k) for k in range(3)]
    sent_ids: list[str] = []
    features: dict[str, object] = {}
    with DriftlineProducer(settings) as producer:
        for model in models:
            events, labels = model.generate(300)
            for event, label in zip(events, labels, strict=True):
                sent_ids.append(send_prediction(producer, event))
                features[sent_ids[-1]] = event["features"]
                producer.send_label(event["model"], sent_ids[-1], label["label"], ts=label["ts"])
            producer.send_metric(model.name, "latency_ms", 12.5, tags={"region": "eu"})
        assert producer.flush(timeout=30)
    assert producer.stats.sent == producer.stats.queued == 900 + 900 + 3
    assert producer.stats.dropped == producer.stats.failed == 0

    received = []
    topic = settings.predictions_topic
    for key, batch in read_events(kafka_bootstrap, topic, decode_predictions, 900):
        assert key is not None
        assert 1 <= len(batch) <= settings.batch_events
        assert {e.model for e in batch} == {key.decode()}
        received += batch
    assert Counter(e.event_id for e in received) == Counter(sent_ids)
    assert all(e.features == features[e.event_id] for e in received)


def test_labels_and_metrics_reach_their_topics(
    kafka_bootstrap: str, new_topic_name: Callable[[], str]
) -> None:
    settings = fresh_topics(kafka_bootstrap, new_topic_name)
    with DriftlineProducer(settings) as producer:
        producer.send_label("churn", "e1", True, ts=0)
        producer.send_metric("churn", "latency_ms", 12.5, model_version="2", ts=1)
    labels = [
        e
        for _, batch in read_events(kafka_bootstrap, settings.labels_topic, decode_labels, 1)
        for e in batch
    ]
    metrics = [
        e
        for _, batch in read_events(kafka_bootstrap, settings.metrics_topic, decode_metrics, 1)
        for e in batch
    ]
    assert [(e.event_id, e.label) for e in labels] == [("e1", True)]
    assert [(e.name, e.value, e.model_version) for e in metrics] == [("latency_ms", 12.5, "2")]


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd", "none"])
def test_every_codec_is_sent_and_read_back(
    kafka_bootstrap: str, new_topic_name: Callable[[], str], codec: str
) -> None:
    """Each codec through the SDK, read back by kafka-python (as `driftline alerts`
    reads) and by kcat (librdkafka, as other languages' services read)."""
    settings = fresh_topics(kafka_bootstrap, new_topic_name, compression=codec)
    events = SyntheticModel("zipped", seed=1).generate(200)[0]
    with DriftlineProducer(settings) as producer:
        sent = [send_prediction(producer, event) for event in events]
        assert producer.flush(timeout=30)
    topic = settings.predictions_topic
    received = [
        e.event_id
        for _, batch in read_events(kafka_bootstrap, topic, decode_predictions, 200)
        for e in batch
    ]
    assert received == sent
    kcat = shutil.which("kcat")
    if kcat is None:
        broker_unavailable("kcat is not installed (apt-get install kcat)", "kcat")
    out = subprocess.run(
        [
            kcat,
            "-C",
            "-b",
            kafka_bootstrap,
            "-t",
            topic,
            "-o",
            "beginning",
            "-e",
            "-q",
            "-f",
            "%s\n",
        ],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    assert [e.event_id for line in out.splitlines() for e in decode_predictions(line)] == sent
