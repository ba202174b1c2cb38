"""The Kafka engine fed by clients we did not write, and by poison messages.

Predictions come from ``kcat`` (librdkafka: CRC32 partitioner, gzip, snappy, lz4 and
zstd batches), labels from a plain kafka-python producer (murmur2 partitioner), so a
model's predictions and labels land on different partitions; keys may be null or
something else than the model. The workers must give the windows and alerts of the
embedded engine all the same, and every poison message must cost exactly one dead
letter, with nothing else lost.
"""

import json
import re
from collections import Counter

import msgspec
import pytest
from kafka import KafkaProducer

from monitor.core import Monitor
from monitor.settings import MonitorSettings
from producers.synthetic import Drift, SyntheticModel, interleave
from schemas import topics
from schemas.dead_letter import DeadLetter
from schemas.stats import FeatureStats
from schemas.wire import WireLabel, WirePrediction
from tests.kafka.kcat import kcat_send
from tests.kafka.test_worker import REFERENCES, SETTINGS, Deployment, deployment, window
from tests.kafka.topics import read_events

pytestmark = pytest.mark.kafka

__all__ = ["deployment"]  # the fixture, shared with test_worker.py

CODECS = ("gzip", "snappy", "lz4", "zstd")


def _stream() -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    drifting = SyntheticModel(
        "drifter",
        seed=3,
        drifts=[Drift("mean_shift", 2000, ("num_00",), 1.0), Drift("accuracy_drop", 1500, (), 0.3)],
    )
    generated = [drifting.generate(4000), SyntheticModel("steady", seed=4).generate(4000)]
    return list(interleave(g[0] for g in generated)), list(interleave(g[1] for g in generated))


def _line(event: dict[str, object]) -> bytes:
    return json.dumps(event).encode()


def test_kcat_codecs_and_partitioners_give_the_embedded_windows_and_alerts(
    deployment: Deployment,
) -> None:
    predictions, labels = _stream()
    monitor = Monitor(MonitorSettings(**SETTINGS), REFERENCES)
    out = monitor.process_predictions([msgspec.convert(e, WirePrediction) for e in predictions])
    expected_windows = {window(s) for s in out.stats}
    out += monitor.process_labels([msgspec.convert(e, WireLabel) for e in labels])
    expected_alerts = {a.alert_id for a in out.alerts}
    assert {a.kind for a in out.alerts} >= {"feature_drift", "performance_degradation"}

    deployment.partitions = 4  # "drifter": partition 3 by CRC32, 1 by murmur2
    workers = [deployment.start_worker("first"), deployment.start_worker("second")]
    try:
        # predictions keyed by model through librdkafka's CRC32 partitioner, a quarter
        # of the stream in each codec, one kcat run each (so batches of many messages)
        quarter = len(predictions) // 4
        for i, codec in enumerate(CODECS):
            chunk = predictions[i * quarter : (i + 1) * quarter]
            records = [(str(e["model"]).encode(), _line(e)) for e in chunk]
            kcat_send(deployment.bootstrap, deployment.topic(topics.PREDICTIONS), records, codec)
        assert deployment.windows(expected_windows) == expected_windows
        # labels from a Python job: kafka-python's murmur2 partitioner, lz4
        producer = KafkaProducer(bootstrap_servers=deployment.bootstrap, compression_type="lz4")
        for label in labels:
            producer.send(
                deployment.topic(topics.LABELS),
                key=str(label["model"]).encode(),
                value=_line(label),
            )
        producer.flush(timeout=60)
        producer.close()
        assert deployment.alerts(expected_alerts) == expected_alerts
        assert deployment.windows(expected_windows) == expected_windows  # none counted twice
        assert _dead_letters(deployment, expected=0) == []
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=30)


def test_a_model_sent_with_null_and_foreign_keys_is_held_by_one_worker(
    deployment: Deployment,
) -> None:
    """Two workers on four partitions: a model whose events are spread over partitions
    by null keys and keys of its own must still be counted by one monitor, once."""
    events = SyntheticModel("drifter", seed=5).generate(2000)[0]
    deployment.partitions = 4
    deployment.settings = {"DRIFTLINE_WINDOW__SIZE": "100", "DRIFTLINE_WINDOW__HOP": "100"}
    workers = [deployment.start_worker("first"), deployment.start_worker("second")]
    try:
        # null keys (librdkafka's sticky random partition) and one key per event
        half = len(events) // 2
        topic = deployment.topic(topics.PREDICTIONS)
        kcat_send(deployment.bootstrap, topic, [(None, _line(e)) for e in events[:half]], "lz4")
        by_id = [(str(e["event_id"]).encode(), _line(e)) for e in events[half:]]
        kcat_send(deployment.bootstrap, topic, by_id, "zstd")
        expected = {("drifter", i) for i in range(len(events) // 100)}
        seen = _window_counts(deployment, len(expected))
        # 20 full windows of 100: a lost event leaves 19; a split model gives half-full ones
        assert sorted(seen.elements()) == sorted(expected)
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=30)


def _window_counts(deployment: Deployment, expected: int) -> Counter[tuple[str, int]]:
    """(model, index) of each window summary with 100 events, in arrival order per model."""
    summaries = [
        FeatureStats.model_validate_json(value)
        for _, values in read_events(
            deployment.bootstrap,
            deployment.topic(topics.FEATURE_STATS),
            lambda v: [v],
            expected,
            timeout=60,
        )
        for value in values
    ]
    assert all(s.window.events == 100 for s in summaries), [s.window.events for s in summaries]
    per_model: Counter[str] = Counter()
    seen: Counter[tuple[str, int]] = Counter()
    for summary in summaries:
        seen[(summary.model, per_model[summary.model])] += 1
        per_model[summary.model] += 1
    return seen


def test_poison_messages_cost_one_dead_letter_each_and_nothing_else(
    deployment: Deployment,
) -> None:
    good = SyntheticModel("drifter", seed=6).generate(1000)[0]
    labels = SyntheticModel("drifter", seed=6).generate(1000)[1][:3]
    deployment.settings = {"DRIFTLINE_WINDOW__SIZE": "100", "DRIFTLINE_WINDOW__HOP": "100"}
    worker = deployment.start_worker("worker")
    try:
        predictions = deployment.topic(topics.PREDICTIONS)
        key = b"drifter"
        poison: list[tuple[bytes | None, bytes | None]] = [
            (key, None),  # kcat -Z: an empty value is sent as null
            (None, None),  # a tombstone without a key
            (key, b"{not json"),
            (key, b"\xff" * 900_000),  # invalid UTF-8: 1.2 MB as base64
            (key, b'"' * 600_000),  # 1.2 MB once escaped (a JSON string, not an object)
            (key, b"\x01" * 900_000),  # 5.4 MB once escaped
            (key, _line({"event_id": "x", "model": "drifter", "ts": "yesterday"})),
        ]
        # each poison message between good ones, in the same kcat batch
        records = []
        for i, event in enumerate(good):
            records.append((key, _line(event)))
            if i % 100 == 50 and poison:
                records.append(poison.pop(0))
        assert not poison
        kcat_send(deployment.bootstrap, predictions, records, "lz4")
        # a 2 MB event, gzip-compressed to a few kB by a plain kafka-python producer
        huge = _line(good[0] | {"event_id": "huge", "features": {"f": "a" * 2_000_000}})
        producer = KafkaProducer(
            bootstrap_servers=deployment.bootstrap,
            compression_type="gzip",
            max_request_size=4_000_000,
        )
        producer.send(predictions, key=key, value=huge)
        # labels: two valid ones beside an invalid one and a null one, in one batch
        batch = [_line(labels[0]), b'{"event_id": 7}', _line(labels[1]), None]
        for value in batch:
            producer.send(deployment.topic(topics.LABELS), key=key, value=value)
        producer.flush(timeout=60)
        producer.close()

        dead = _dead_letters(deployment, expected=10)
        reasons = Counter(letter.reason.split(":")[0] for letter in dead)
        assert reasons == {
            "null_value": 3,
            "invalid_json": 3,
            "invalid_event": 3,
            "oversize": 1,
        }, [letter.reason for letter in dead]
        assert len({(d.topic, d.partition, d.offset) for d in dead}) == 10  # one per message
        assert all(d.topic is not None and d.offset is not None for d in dead)
        assert {d.key for d in dead} == {"drifter", None}
        assert all(len(d.model_dump_json()) < 1_000_000 for d in dead)
        huge_letter = next(d for d in dead if d.reason.startswith("oversize"))
        assert (huge_letter.size, huge_letter.truncated) == (len(huge), True)
        # every good prediction counted: ten full windows of 100
        counts = _window_counts(deployment, 10)
        assert sorted(counts.elements()) == [("drifter", i) for i in range(10)]
    finally:
        worker.terminate()
        worker.wait(timeout=30)


UNDECODABLE_ZSTD = (
    "-c",
    "import sys, aiokafka.codec as codec; codec.has_zstd = lambda: False; "
    "from monitor.cli.main import main; sys.exit(main(sys.argv[1:]))",
)
"""A worker whose aiokafka cannot decode zstd, as before cramjam was a dependency."""


def test_a_batch_the_worker_cannot_decode_is_dead_lettered_and_skipped(
    deployment: Deployment,
) -> None:
    events = SyntheticModel("drifter", seed=7).generate(400)[0]
    deployment.settings = {"DRIFTLINE_WINDOW__SIZE": "100", "DRIFTLINE_WINDOW__HOP": "100"}
    deployment.partitions = 1
    worker = deployment.start_worker("worker", python=UNDECODABLE_ZSTD)
    try:
        topic = deployment.topic(topics.PREDICTIONS)
        line = [(b"drifter", _line(e)) for e in events]
        kcat_send(deployment.bootstrap, topic, line[:100], "lz4")
        kcat_send(deployment.bootstrap, topic, line[100:200], "zstd")  # cannot be decoded
        kcat_send(deployment.bootstrap, topic, line[200:], "gzip")
        # the gzip events are routed after the zstd ones, whose dead letters are then on
        # the broker: so the windows first, then every dead letter is there to read
        counts = _window_counts(deployment, 3)  # 300 decodable events: 3 windows
        assert sorted(counts.elements()) == [("drifter", i) for i in range(3)]
        # one dead letter per record batch: librdkafka may split the 100 messages in two
        letters = sorted(_dead_letters(deployment, expected=2), key=lambda d: d.offset or 0)
        assert letters
        assert all(d.reason.startswith("undecodable_batch: UnsupportedCodecError") for d in letters)
        assert all((d.topic, d.partition) == (topic, 0) for d in letters)
        covered = []
        for letter in letters:
            first, last = re.search(r"offsets (\d+)-(\d+)", letter.reason).groups()  # type: ignore[union-attr]
            assert letter.offset == int(first)
            covered += range(int(first), int(last) + 1)
        assert covered == list(range(100, 200))  # the zstd messages, each once
        assert worker.poll() is None
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def _dead_letters(deployment: Deployment, expected: int) -> list[DeadLetter]:
    """The dead letters published, one per refused message.

    Dead letters are delivered at least once, like everything a worker publishes: a
    rebalance before the router committed (under load, at start) publishes a message's
    dead letter again. The copies are the same record, named by topic, partition and
    offset (and the element of a batch, in ``source``), which is what consumers
    deduplicate on; so does this test.
    """
    messages = read_events(
        deployment.bootstrap,
        deployment.topic(topics.DEAD_LETTER),
        lambda value: [DeadLetter.model_validate_json(value)],
        2 * expected + 1,  # and nothing more (copies included)
        timeout=10 if expected else 5,
    )
    unique: dict[tuple[object, ...], DeadLetter] = {}
    for _, letters in messages:
        for letter in letters:
            identity = (letter.topic, letter.partition, letter.offset, letter.source)
            assert unique.setdefault(identity, letter) == letter, "two letters for one message"
    return list(unique.values())
