"""The Kafka benchmark's load generators: the stream loaded through the producer SDK or
one event per message with kafka-python, and the paced drifting models of the latency run."""

import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import msgspec
from kafka import KafkaProducer

from bench.kafka.figures import Sample
from producers.producer import DriftlineProducer
from producers.settings import ProducerSettings
from producers.synthetic import Drift, SyntheticModel, interleave, send_prediction

__all__ = [
    "IN_FLIGHT",
    "latency_models",
    "load_one_per_message",
    "load_with_sdk",
    "paced_events",
    "resend",
]

IN_FLIGHT = 50_000
"""Most events queued in the SDK and not yet acknowledged during the load."""


def _model_key(line: bytes) -> bytes:
    """The ``model`` of an event line written by :mod:`bench.stream`, without parsing."""
    start = line.index(b'"model":"') + 9
    return line[start : line.index(b'"', start)]


def load_with_sdk(bootstrap: str, topic: str, events: Path) -> Sample:
    """Send every event through the producer SDK; timed from the first call to flushed."""
    settings = ProducerSettings(
        broker=bootstrap, predictions_topic=topic, buffer_events=2 * IN_FLIGHT
    )
    decode = msgspec.json.Decoder().decode
    count = 0
    with DriftlineProducer(settings) as producer, events.open("rb") as lines:
        started = time.perf_counter()
        for line in lines:
            e = decode(line)
            send_prediction(producer, e)
            count += 1
            while producer.stats.queued - producer.stats.sent > IN_FLIGHT:
                time.sleep(0.001)
        if not producer.flush(timeout=300):
            raise SystemExit("bench: the SDK could not deliver the stream")
        seconds = time.perf_counter() - started
        stats = producer.stats
    if stats.dropped or stats.failed:
        raise SystemExit(f"bench: the SDK dropped or failed events: {stats}")
    return Sample(seconds, count, 0, {"sdk": asdict(stats)})


def _raw_producer(bootstrap: str, compression: str | None) -> KafkaProducer:
    """kafka-python tuned for throughput (defaults otherwise: idempotent, acks=all)."""
    return KafkaProducer(
        bootstrap_servers=bootstrap,
        compression_type=compression,
        linger_ms=20,
        batch_size=1 << 20,
        max_request_size=4 << 20,
    )


def load_one_per_message(bootstrap: str, topic: str, events: Path) -> Sample:
    """Send each event line as one message (key = model); timed from the first send to
    flushed, reading the file included."""
    producer = _raw_producer(bootstrap, None)
    producer.partitions_for(topic)  # connected, metadata known: not timed
    count = 0
    try:
        with events.open("rb") as lines:
            started = time.perf_counter()
            for line in lines:
                value = line.rstrip(b"\n")
                producer.send(topic, key=_model_key(value), value=value)
                count += 1
            producer.flush(timeout=300)
            seconds = time.perf_counter() - started
    finally:
        producer.close()
    return Sample(seconds, count, count)


def resend(bootstrap: str, topic: str, messages: list[tuple[bytes, bytes]], events: int) -> Sample:
    """Send already-built messages again (gzip, as the SDK does): kafka-python's rate."""
    producer = _raw_producer(bootstrap, "gzip")
    producer.partitions_for(topic)
    try:
        started = time.perf_counter()
        for key, value in messages:
            producer.send(topic, key=key, value=value)
        producer.flush(timeout=300)
        seconds = time.perf_counter() - started
    finally:
        producer.close()
    return Sample(seconds, events, len(messages))


def latency_models(per_model: int, seed: int) -> list[SyntheticModel]:
    """The 4 models of :mod:`bench.stream` (same reference), drifting a third of the way."""
    onset = per_model // 3
    numeric = SyntheticModel.numeric
    drifts = [
        [],
        [Drift("mean_shift", onset, numeric[:5], magnitude=1.0)],
        [
            Drift("new_category", onset, ("cat_0", "cat_1"), magnitude=0.3),
            Drift("mean_shift", onset, numeric[5:8], magnitude=1.0),
        ],
        [Drift("variance", onset, numeric[:4], magnitude=4.0)],
    ]
    return [
        SyntheticModel(f"model-{k}", version="1", seed=seed + k, drifts=drifts[k])
        for k in range(len(drifts))
    ]


def paced_events(models: list[SyntheticModel], total: int) -> Iterator[dict[str, Any]]:
    """``total`` events of the models, interleaved, generated 250 per model at a time."""
    sent = 0
    while sent < total:
        chunk = interleave([m.generate(250)[0] for m in models])
        for event in chunk:
            if sent == total:
                return
            yield event
            sent += 1
