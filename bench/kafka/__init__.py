"""Kafka benchmark: a driftline worker's throughput and alert latency on a real broker.

Run from the repository root::

    python -m bench kafka                      # ~4 min: 200,000 events, 1 run
    python -m bench kafka --events 50000 --runs 3 --latency-seconds 20

The broker is ``KAFKA_BOOTSTRAP_SERVERS`` when set, else a local KRaft broker started
with :class:`monitor.dev.kafka.LocalKafka` (and stopped at the end). Every topic has a
suffix unique to the run (``DRIFTLINE_KAFKA__TOPIC_SUFFIX``); every worker its own app
id, so its own consumer group and state table.

**Throughput.** The stream of :mod:`bench.stream` (4 models, 20 numeric + 5 categorical
features, predictions only) is loaded, before any worker runs, into two prediction
topics: ``batch``, through the producer SDK (:class:`~producers.producer.DriftlineProducer`,
JSON arrays of up to 500 events of one model, gzip), and ``event``, one JSON object per
message with a bare kafka-python producer. On each topic, per run:

- a bare kafka-python ``KafkaConsumer`` and a bare aiokafka ``AIOKafkaConsumer`` read
  every message and decode it with ``msgspec.json.decode`` (untyped): the ceiling;
- one ``driftline worker`` (``python -m monitor.cli.main worker``, default window and
  policy settings) consumes the topic from its start. Timed: from the moment *every*
  model has had a window summary published on ``driftline.feature-stats`` to the last
  summary, by the Kafka timestamps (CreateTime, set by the worker's producer as it
  publishes) of those summaries; events = the growth, over that span, of the sum over
  models of the position of each model's last closed window (a window's ``end`` is the
  event time of its last event, and the stream's event times give its position). Worker
  start-up, partition assignment, the first window of each model and the tail after the
  last window are outside the span. Cross-check: the worker's consumer group (the app id)
  is polled with ``KafkaAdminClient.list_group_offsets``; "Ready → committed" is from the
  ``[^Worker]: Ready`` log line to all offsets committed, which includes Faust's commit
  interval (2.8 s). A worker still busy after ``--max-seconds`` is stopped; its rate is
  still measured over the summaries it published.

Produce rates come with the load: the SDK (``send_prediction`` per event, then ``flush``),
and kafka-python with the same messages (the SDK's batches re-sent to a scratch topic,
gzip; one event per message: the load itself, no compression).

**Alert latency.** A fresh set of topics and a worker with small windows
(:data:`LATENCY_ENV`) are started first; then 4 models with drift injected a third of
the way in are sent through the SDK at a paced ``--rate`` events/s for
``--latency-seconds``, each event's ``ts`` the wall-clock time of its
``send_prediction`` call. Latency of an output message = its Kafka timestamp - its
``window.end`` (the event time, thus the send time, of the event that closed the window),
for every ``driftline.drift-alerts`` message and every ``driftline.feature-stats``
message (one per closed window: many more samples). It includes the SDK's linger
(50 ms), the broker, the worker's fetch, processing and publishing; it is split at the
Kafka timestamp of the prediction message that carried the closing event (set by
kafka-python as the SDK sends it) into the SDK's part and the broker + worker's part.
The notes give the worker's CPU and the machine's load over each timed span.

The markdown tables are printed and written to ``bench/out/kafka.md``; every sample to
``bench/out/kafka.json``.
"""

import argparse
import json
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from kafka.admin import NewTopic

from bench import results as results_file
from bench.cli import add_env_option, add_tree_option, log
from bench.kafka.broker import Cluster, kafka_broker, read_records
from bench.kafka.consume import consume_aiokafka, consume_kafka_python
from bench.kafka.figures import Row, Sample
from bench.kafka.latency import measure_latency
from bench.kafka.load import load_one_per_message, load_with_sdk, resend
from bench.kafka.report import report
from bench.kafka.worker import Setup, measure_worker
from bench.replay import source_digest
from bench.stream import OUT, ROOT, build_reference, prepare
from schemas import topics

__all__ = ["main"]

EVENTS = 200_000
RUNS = 1
PARTITIONS = 4
MAX_SECONDS = 60.0
"""Longest a worker may consume one input before it is stopped (rate still measured)."""
RATE = 10_000.0
LATENCY_SECONDS = 30.0


def main(argv: list[str]) -> int:
    """Load the topics, run every measurement, print and write the tables."""
    parser = argparse.ArgumentParser(prog="python -m bench kafka", description=__doc__)
    parser.add_argument("--events", type=int, default=EVENTS, help="predictions in the stream")
    parser.add_argument("--runs", type=int, default=RUNS, help="runs of each consumer")
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=MAX_SECONDS,
        help="stop a worker still consuming after this long (its rate is still measured)",
    )
    parser.add_argument("--partitions", type=int, default=PARTITIONS, help="per topic")
    parser.add_argument("--rate", type=float, default=RATE, help="events/s of the latency run")
    parser.add_argument(
        "--latency-seconds", type=float, default=LATENCY_SECONDS, help="0: no latency run"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the streams")
    add_tree_option(parser, "run workers from")
    add_env_option(
        parser,
        "a setting for every worker, e.g. DRIFTLINE_KAFKA__BATCH_MESSAGES=5000 "
        "(repeatable; applied after the benchmark's own)",
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    load = os.getloadavg()
    digest = source_digest(args.tree)
    stream = prepare(args.events, args.seed, False, log)
    reference = build_reference(args.seed, log, args.tree)
    token = f"bench-{uuid.uuid4().hex[:8]}"
    with kafka_broker() as (bootstrap, broker), tempfile.TemporaryDirectory() as scratch:
        cluster = Cluster(bootstrap, token)
        try:
            setup = Setup(
                cluster, reference, Path(scratch), args.partitions, args.tree, dict(args.env)
            )
            rows, latency = _measure(setup, stream.events, stream.predictions, args, token)
        finally:
            cluster.close()

    changed = source_digest(args.tree) != digest
    text = report(argv, args, stream.predictions, broker, rows, latency, load, started, changed)
    print(text)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "kafka.md").write_text(text)
    results_file.record("kafka", f"## Streaming: the Kafka worker\n\n{text}")
    raw = {
        "throughput": [
            {"shape": r.shape, "name": r.name, "samples": [asdict(s) for s in r.samples]}
            for r in rows
        ],
        "latency": latency,
    }
    (OUT / "kafka.json").write_text(json.dumps(raw, indent=1, default=str) + "\n")
    log(f"wrote {OUT.relative_to(ROOT)}/kafka.md and kafka.json")
    return 0


def _measure(
    setup: Setup, events: Path, expected: int, args: argparse.Namespace, token: str
) -> tuple[list[Row], dict[str, Any] | None]:
    """Load both inputs, then run the consumers and workers round-robin, then latency."""
    cluster = setup.cluster
    bootstrap = cluster.bootstrap
    inputs = {"batch": f"-{token}-batch", "event": f"-{token}-event"}
    for suffix in inputs.values():
        cluster.create_topics(suffix, setup.partitions)
    rows: list[Row] = []
    batch_topic = topics.PREDICTIONS + inputs["batch"]
    log(f"loading {expected:,} events through the SDK")
    sdk = Row("batch", "produce: driftline SDK (`DriftlineProducer`)", "send → flushed")
    sdk.samples.append(load_with_sdk(bootstrap, batch_topic, events))
    messages = [(r.key or b"", r.value) for r in read_records(bootstrap, batch_topic)]
    sdk.samples[0].messages = len(messages)
    scratch = f"driftline.scratch-{token}"
    cluster.admin.create_topics([NewTopic(scratch, setup.partitions, 1)])
    log(f"re-sending the SDK's {len(messages):,} messages with kafka-python")
    again = Row("batch", "produce: kafka-python, same messages", "send → flushed")
    again.samples.append(resend(bootstrap, scratch, messages, expected))
    del messages
    log(f"loading {expected:,} events, one per message, with kafka-python")
    single = Row("event", "produce: kafka-python", "send → flushed")
    single.samples.append(
        load_one_per_message(bootstrap, topics.PREDICTIONS + inputs["event"], events)
    )
    rows += [sdk, again, single]
    measured: list[tuple[str, Row, Callable[[int], Sample]]] = []
    for shape, suffix in inputs.items():
        topic = topics.PREDICTIONS + suffix
        rows_of_shape = [
            Row(shape, "consume: kafka-python `KafkaConsumer` + decode", "first record → last"),
            Row(shape, "consume: aiokafka `AIOKafkaConsumer` + decode", "first record → last"),
            Row(shape, "**driftline worker** (1 process)", "first → last window summary"),
        ]
        rows += rows_of_shape

        def python(run: int, topic: str = topic) -> Sample:
            return consume_kafka_python(bootstrap, topic, expected)

        def aio(run: int, topic: str = topic) -> Sample:
            return consume_aiokafka(bootstrap, topic, expected)

        def worker(run: int, shape: str = shape, suffix: str = suffix) -> Sample:
            app_id = f"driftline-{token}-{shape}-{run}"
            sample = measure_worker(setup, suffix, app_id, expected, args.max_seconds)
            sample.info |= {"expected": expected, "max_seconds": args.max_seconds}
            return sample

        measured += zip([shape] * 3, rows_of_shape, [python, aio, worker], strict=True)
    for run in range(1, args.runs + 1):
        for shape, row, measure in measured:
            log(f"run {run}/{args.runs}: {shape}: {row.name}")
            row.samples.append(measure(run))
    latency = None
    if args.latency_seconds > 0:
        latency = measure_latency(setup, token, args.rate, args.latency_seconds, args.seed)
    return rows, latency
