"""Kafka benchmark: a driftline worker's throughput and alert latency on a real broker.

Run from the repository root::

    python -m bench kafka                      # ~4 min: 200,000 events, 1 run
    python -m bench kafka --events 50000 --runs 3 --latency-seconds 20

The broker is ``KAFKA_BOOTSTRAP_SERVERS`` when set, else a local KRaft broker started
with :class:`tests.kafka.broker.LocalKafka` (and stopped at the end). Every topic has a
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
import asyncio
import bisect
import contextlib
import itertools
import json
import os
import platform
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any, NamedTuple

import msgspec
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError

from bench import results as results_file
from bench.replay import code_version, source_digest
from bench.stream import (
    OUT,
    ROOT,
    add_tree_option,
    build_reference,
    clean_env,
    prepare,
    services,
)
from monitor.kafka.admin import by_model_topic
from monitor.settings import KafkaSettings
from producers.producer import DriftlineProducer
from producers.settings import ProducerSettings
from producers.synthetic import Drift, SyntheticModel, interleave, send_prediction
from schemas import topics

__all__ = [
    "LATENCY_ENV",
    "Sample",
    "interpolate",
    "latency_summary",
    "main",
    "percentile",
    "progress_rate",
]

EVENTS = 200_000
RUNS = 1
PARTITIONS = 4
MAX_SECONDS = 60.0
"""Longest a worker may consume one input before it is stopped (rate still measured)."""
RATE = 10_000.0
LATENCY_SECONDS = 30.0
LATENCY_ENV = {
    "DRIFTLINE_WINDOW__SIZE": "1000",
    "DRIFTLINE_WINDOW__HOP": "250",
    "DRIFTLINE_POLICY__FIRE_AFTER": "1",
}
"""Settings of the latency worker: a window closes every 250 events of a model."""
READY = b"[^Worker]: Ready"
IN_FLIGHT = 50_000
"""Most events queued in the SDK and not yet acknowledged during the load."""


def log(message: str) -> None:
    """A progress line on stderr."""
    print(f"bench: {message}", file=sys.stderr, flush=True)


# --- pure helpers ----------------------------------------------------------------------


def progress_rate(points: list[tuple[float, str, int]]) -> tuple[float, float, int] | None:
    """Start, end and events of steady processing, from progress reports.

    ``points`` are ``(time, model, events of that model done)``. The span starts once
    every model has reported and ends at the last report; events are the growth of the
    sum over models of their last reported count. None without such a span.

    >>> progress_rate([(0.0, "a", 500), (0.5, "b", 500), (1.0, "a", 1000),
    ...                (2.5, "b", 2000), (2.5, "a", 1500)])
    (0.5, 2.5, 2500)
    >>> progress_rate([(0.0, "a", 500)]) is None
    True
    """
    models = {model for _, model, _ in points}
    done: dict[str, int] = {}
    start: tuple[float, int] | None = None
    for moment, model, count in sorted(points):
        done[model] = max(done.get(model, 0), count)
        if start is None and len(done) == len(models):
            start = (moment, sum(done.values()))
    if start is None:
        return None
    end = max(moment for moment, _, _ in points)
    if end <= start[0]:
        return None
    return start[0], end, sum(done.values()) - start[1]


def interpolate(samples: list[tuple[float, float]], moment: float) -> float:
    """The value at ``moment`` of a series of ``(time, value)``, linearly interpolated
    (held constant outside it).

    >>> interpolate([(0.0, 1.0), (2.0, 3.0)], 0.5), interpolate([(0.0, 1.0)], 9.0)
    (1.5, 1.0)
    """
    before = [s for s in samples if s[0] <= moment]
    after = [s for s in samples if s[0] > moment]
    if not before or not after:
        return (before or after)[-1 if before else 0][1]
    (t0, v0), (t1, v1) = before[-1], after[0]
    return v0 + (v1 - v0) * (moment - t0) / (t1 - t0)


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ``values``, linearly interpolated.

    >>> percentile([1.0, 2.0, 3.0, 4.0], 50), percentile([5.0], 99)
    (2.5, 5.0)
    """
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def latency_summary(seconds: list[float]) -> dict[str, float | int]:
    """Count, p50, p90, p99 and max (milliseconds), and the medians of the first and
    last fifth (in order of publication) to show a worker falling behind.

    >>> latency_summary([0.1, 0.2, 0.3, 0.4, 0.5])["p50"]
    300.0
    """
    ms = [s * 1000 for s in seconds]
    fifth = max(len(ms) // 5, 1)
    return {
        "samples": len(ms),
        "p50": percentile(ms, 50),
        "p90": percentile(ms, 90),
        "p99": percentile(ms, 99),
        "max": max(ms),
        "first_fifth_p50": statistics.median(ms[:fifth]),
        "last_fifth_p50": statistics.median(ms[-fifth:]),
    }


# --- the broker and its topics -----------------------------------------------------------


@contextlib.contextmanager
def kafka_broker() -> Iterator[tuple[str, str]]:
    """``(bootstrap, description)``: ``KAFKA_BOOTSTRAP_SERVERS``, or a local broker."""
    given = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if given:
        yield given, f"Kafka at {given} (KAFKA_BOOTSTRAP_SERVERS; version not checked)"
        return
    from tests.kafka.broker import KAFKA_VERSION, LocalKafka

    log(f"starting a local Kafka {KAFKA_VERSION} broker (tests.kafka.broker.LocalKafka)")
    with LocalKafka() as broker:
        yield broker.bootstrap, f"Apache Kafka {KAFKA_VERSION} (local KRaft, 1 broker)"


class Cluster:
    """Admin and offset look-ups on one broker; deletes the run's topics on close."""

    def __init__(self, bootstrap: str, token: str) -> None:
        self.bootstrap = bootstrap
        self.token = token
        self.admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        self.consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)

    def create_topics(self, suffix: str, partitions: int) -> None:
        """Every driftline topic with ``suffix``, as the worker would create them."""
        new = [NewTopic(name + suffix, partitions, 1) for name in topics.ALL_TOPICS]
        self.admin.create_topics(new)
        deadline = time.monotonic() + 30
        while not all(self.partitions(topic.name) for topic in new):
            if time.monotonic() > deadline:
                raise SystemExit(f"bench: topics with suffix {suffix} did not appear")
            time.sleep(0.1)

    def partitions(self, topic: str) -> list[TopicPartition]:
        """The topic's partitions (empty while it is unknown)."""
        found = self.consumer.partitions_for_topic(topic) or set()
        return [TopicPartition(topic, p) for p in sorted(found)]

    def end_offsets(self, topic: str) -> dict[int, int]:
        """Partition → offset of the next message."""
        ends = self.consumer.end_offsets(self.partitions(topic))
        return {tp.partition: offset for tp, offset in ends.items()}

    def committed(self, group: str, topic: str) -> dict[int, int]:
        """Partition → offset committed by ``group`` (0 where none yet)."""
        parts = self.partitions(topic)
        try:
            found = self.admin.list_group_offsets({group: parts}).get(group, {})
        except KafkaError:
            return {}
        return {tp.partition: max(found[tp].offset, 0) if found.get(tp) else 0 for tp in parts}

    def close(self) -> None:
        """Delete the topics of this run (Faust's changelogs included), close clients."""
        try:
            mine = [t for t in self.admin.list_topics() if self.token in t]
            if mine:
                self.admin.delete_topics(mine)
        except KafkaError as error:
            log(f"could not delete the run's topics: {error}")
        finally:
            self.consumer.close()
            self.admin.close()


class Record(NamedTuple):
    """What the benchmark keeps of a consumed message."""

    timestamp: int
    key: bytes | None
    value: bytes


def read_records(
    bootstrap: str, topic: str, start: dict[int, int] | None = None, timeout: float = 60.0
) -> list[Record]:
    """The topic's messages from ``start`` (default: the beginning) to its end offsets at
    the call, partition after partition."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        ends = consumer.end_offsets(parts)
        consumer.assign(parts)
        for tp in parts:
            consumer.seek(tp, (start or {}).get(tp.partition, 0))
        records: list[Record] = []
        deadline = time.monotonic() + timeout
        while any(consumer.position(tp) < ends[tp] for tp in parts):
            if time.monotonic() > deadline:
                raise SystemExit(f"bench: could not read {topic} to its end")
            for batch in consumer.poll(timeout_ms=1000).values():
                records += [Record(r.timestamp, r.key, r.value) for r in batch]
        return records
    finally:
        consumer.close()


# --- measurements --------------------------------------------------------------------------


@dataclass
class Sample:
    """One timed run: seconds timed, events and messages in them, and what else it saw."""

    seconds: float
    events: int
    messages: int
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        """Events per second."""
        return self.events / self.seconds if self.seconds > 0 else 0.0


@dataclass
class Row:
    """One line of the throughput table and its samples."""

    shape: str
    name: str
    timed: str
    samples: list[Sample] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """Median events/s over runs."""
        return statistics.median(s.rate for s in self.samples)


def _model_key(line: bytes) -> bytes:
    """The ``model`` of an event line written by :mod:`bench.stream`, without parsing."""
    start = line.index(b'"model":"') + 9
    return line[start : line.index(b'"', start)]


def load_with_sdk(bootstrap: str, topic: str, events: Path) -> Sample:
    """Send every event through the producer SDK; timed from the first call to flushed."""
    settings = ProducerSettings(
        bootstrap_servers=bootstrap, predictions_topic=topic, buffer_events=2 * IN_FLIGHT
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


def _count(value: bytes, decode: Callable[[bytes], Any]) -> int:
    """Events in one message value: a JSON object or an array of them."""
    decoded = decode(value)
    return len(decoded) if isinstance(decoded, list) else 1


def consume_kafka_python(bootstrap: str, topic: str, expected: int) -> Sample:
    """A bare ``KafkaConsumer`` reads and decodes the topic; timed from the first
    record returned to the last event decoded."""
    decode = msgspec.json.Decoder().decode
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        events = messages = 0
        started = 0.0
        deadline = time.monotonic() + 300
        while events < expected and time.monotonic() < deadline:
            polled = consumer.poll(timeout_ms=1000)
            if polled and not started:
                started = time.perf_counter()
            for batch in polled.values():
                messages += len(batch)
                for record in batch:
                    events += _count(record.value, decode)
        seconds = time.perf_counter() - started
    finally:
        consumer.close()
    _expect("kafka-python consumer", events, expected)
    return Sample(seconds, events, messages)


def consume_aiokafka(bootstrap: str, topic: str, expected: int) -> Sample:
    """A bare ``AIOKafkaConsumer`` (``getmany``) reads and decodes the topic; timed as
    :func:`consume_kafka_python`."""
    from aiokafka import AIOKafkaConsumer

    decode = msgspec.json.Decoder().decode

    async def run() -> Sample:
        consumer = AIOKafkaConsumer(
            topic,  # without a group id: every partition, from auto_offset_reset
            bootstrap_servers=bootstrap,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            events = messages = 0
            started = 0.0
            deadline = time.monotonic() + 300
            while events < expected and time.monotonic() < deadline:
                polled = await consumer.getmany(timeout_ms=1000)
                if polled and not started:
                    started = time.perf_counter()
                for batch in polled.values():
                    messages += len(batch)
                    for record in batch:
                        assert record.value is not None
                        events += _count(record.value, decode)
            return Sample(time.perf_counter() - started, events, messages)
        finally:
            await consumer.stop()

    sample = asyncio.run(run())
    _expect("aiokafka consumer", sample.events, expected)
    return sample


def _expect(what: str, seen: int, expected: int) -> None:
    if seen != expected:
        raise SystemExit(f"bench: {what} saw {seen:,} events, expected {expected:,}")


class Worker:
    """``python -m monitor.cli.main worker`` in a process of its own, logging to a file."""

    def __init__(self, env: dict[str, str], reference: Path, log_file: Path, cwd: Path) -> None:
        self.log_file = log_file
        command = [sys.executable, "-m", "monitor.cli.main", "worker", "--reference"]
        with log_file.open("wb") as out:
            self.process = subprocess.Popen(
                [*command, str(reference)],
                env=env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, timeout: float = 120.0) -> float:
        """Block until the log says ``[^Worker]: Ready``; the ``perf_counter`` then."""
        deadline = time.monotonic() + timeout
        while READY not in self.log_file.read_bytes():
            self.check()
            if time.monotonic() > deadline:
                raise SystemExit(f"bench: worker not ready after {timeout:.0f} s\n{self.tail()}")
            time.sleep(0.05)
        return time.perf_counter()

    def check(self) -> None:
        """Fail if the worker exited."""
        if self.process.poll() is not None:
            raise SystemExit(f"bench: the worker exited {self.process.returncode}\n{self.tail()}")

    def cpu_seconds(self) -> float | None:
        """User + system CPU seconds so far (Linux ``/proc``), else None."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def tail(self) -> str:
        """The end of the worker's log."""
        return self.log_file.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 30 s."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def machine_counters() -> tuple[float, float] | None:
    """CPU seconds the machine was busy (all cores) and seconds some task waited for a
    CPU (``/proc/pressure/cpu``), both since boot; None off Linux or without PSI."""
    try:
        ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        pressure = Path("/proc/pressure/cpu").read_text().split("\n", 1)[0]
    except (OSError, ValueError):
        return None
    idle = ticks[3] + ticks[4]  # idle + iowait
    waited = int(pressure.rsplit("total=", 1)[1]) / 1e6
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK"), waited


def machine_shares(
    before: tuple[float, float] | None, after: tuple[float, float] | None, seconds: float
) -> dict[str, float] | None:
    """Busy share of all cores, and share of the time some task waited for a CPU.

    >>> machine_shares((10.0, 1.0), (13.0, 1.5), 2.0)["waiting"]
    0.25
    """
    if before is None or after is None or seconds <= 0:
        return None
    cores = os.cpu_count() or 1
    return {
        "busy": (after[0] - before[0]) / (seconds * cores),
        "waiting": (after[1] - before[1]) / seconds,
    }


def machine_text(shares: dict[str, float] | None) -> str:
    """How loaded the machine was, in words."""
    if shares is None:
        return "machine load n/a"
    return (
        f"machine CPU busy {shares['busy']:.0%} of {os.cpu_count()} cores, some task waiting "
        f"for a CPU {shares['waiting']:.0%} of the time"
    )


@dataclass(frozen=True)
class Setup:
    """What every worker of a run shares."""

    cluster: Cluster
    reference: Path
    scratch: Path
    partitions: int
    tree: Path | None
    settings: dict[str, str] = field(default_factory=dict)
    """``DRIFTLINE_*`` variables for every worker (``--env``), applied last."""

    def worker(self, suffix: str, app_id: str, extra: dict[str, str] | None = None) -> Worker:
        """Start a worker on the topics with ``suffix``, as consumer group ``app_id``."""
        env = clean_env(self.tree) | {
            "DRIFTLINE_KAFKA__BROKER": f"kafka://{self.cluster.bootstrap}",
            "DRIFTLINE_KAFKA__TOPIC_SUFFIX": suffix,
            "DRIFTLINE_KAFKA__APP_ID": app_id,
            "DRIFTLINE_KAFKA__PARTITIONS": str(self.partitions),
        }
        log_file = self.scratch / f"{app_id}.log"
        env |= (extra or {}) | self.settings
        return Worker(env, self.reference, log_file, self.tree or ROOT)


class _Window(msgspec.Struct):
    end: datetime


class _Output(msgspec.Struct):
    """The fields of a feature-stats or alert message the benchmark reads."""

    model: str
    window: _Window
    kind: str = "stats"
    subject: str = ""
    status: str = ""


def measure_worker(
    setup: Setup, suffix: str, app_id: str, expected: int, max_seconds: float
) -> Sample:
    """One worker consumes the loaded topic from its start; see the module docstring."""
    cluster = setup.cluster
    source = topics.PREDICTIONS + suffix
    routed = by_model_topic(KafkaSettings(app_id=app_id, topic_suffix=suffix), "predictions")
    stats_topic = topics.FEATURE_STATS + suffix
    ends = cluster.end_offsets(source)
    stats_start = cluster.end_offsets(stats_topic)
    worker = setup.worker(suffix, app_id)
    done_at = None
    cpu: list[tuple[float, float]] = []  # (wall clock, worker CPU seconds)
    busy: list[tuple[float, float]] = []  # (wall clock, machine busy CPU seconds)
    waited: list[tuple[float, float]] = []  # (wall clock, seconds a task waited for CPU)
    try:
        ready = worker.wait_ready()
        while time.perf_counter() - ready < max_seconds:
            worker.check()
            used, machine, now = worker.cpu_seconds(), machine_counters(), time.time()
            if used is not None:
                cpu.append((now, used))
            if machine is not None:
                busy.append((now, machine[0]))
                waited.append((now, machine[1]))
            if _all_committed(cluster, app_id, source, ends) and _all_committed(
                cluster, app_id, routed, cluster.end_offsets(routed)
            ):  # routed by model, then applied: both stages committed to the end
                done_at = time.perf_counter()
                break
            time.sleep(0.2)
    finally:
        worker.stop()
    decode = msgspec.json.Decoder(_Output).decode
    origin, rate = _stream_clock()
    points = []
    for record in read_records(cluster.bootstrap, stats_topic, stats_start):
        out = decode(record.value)
        position = round((out.window.end.timestamp() - origin) * rate) + 1
        points.append((record.timestamp / 1000, out.model, position))
    span = progress_rate(points)
    if span is None:
        raise SystemExit(f"bench: too few window summaries from {app_id}\n{worker.tail()}")
    start, end, events = span
    share = None
    if len(cpu) > 1:
        share = (interpolate(cpu, end) - interpolate(cpu, start)) / (end - start)
    load = None
    if len(busy) > 1:
        load = machine_shares(
            (interpolate(busy, start), interpolate(waited, start)),
            (interpolate(busy, end), interpolate(waited, end)),
            end - start,
        )
    info = {
        "summaries": len(points),
        "ready_to_committed": None if done_at is None else done_at - ready,
        "capped": done_at is None,
        "cpu_share": share,
        "machine": load,
        "progress": points,
    }
    return Sample(end - start, events, 0, info)


def _all_committed(cluster: Cluster, group: str, topic: str, ends: dict[int, int]) -> bool:
    committed = cluster.committed(group, topic)
    return bool(ends) and all(committed.get(p, 0) >= end for p, end in ends.items())


def _stream_clock() -> tuple[float, float]:
    """Event time of the first event of each model of :mod:`bench.stream`, and its rate."""
    model = services(4, 0)[0]
    return model.start, model.rate


# --- alert latency ---------------------------------------------------------------------------


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


def measure_latency(
    setup: Setup, token: str, rate: float, seconds: float, seed: int
) -> dict[str, Any]:
    """Paced SDK traffic into a running worker; latencies of its output messages."""
    cluster = setup.cluster
    suffix = f"-{token}-latency"
    cluster.create_topics(suffix, setup.partitions)
    total = int(rate * seconds)
    models = latency_models(total // 4, seed)
    worker = setup.worker(suffix, f"driftline-{token}-latency", LATENCY_ENV)
    try:
        worker.wait_ready()
        settings = ProducerSettings(
            bootstrap_servers=cluster.bootstrap, predictions_topic=topics.PREDICTIONS + suffix
        )
        log(f"latency: sending {total:,} events at {rate:,.0f}/s through the SDK")
        with DriftlineProducer(settings) as producer:
            sent = 0
            events = paced_events(models, total)
            worker_cpu, own_cpu = worker.cpu_seconds(), time.process_time()
            machine = machine_counters()
            started = time.perf_counter()
            while sent < total:
                due = min(total, int((time.perf_counter() - started) * rate) + 1)
                for event in events:
                    send_prediction(producer, event, ts=time.time())
                    sent += 1
                    if sent >= due:
                        break
                time.sleep(0.002)
            sending = time.perf_counter() - started
            used = worker.cpu_seconds()
            cpu = {
                "worker": None if used is None or worker_cpu is None else used - worker_cpu,
                "bench": time.process_time() - own_cpu,
            }
            load = machine_shares(machine, machine_counters(), sending)
            producer.flush(timeout=60)
            stats = producer.stats
        worker.check()
        source = topics.PREDICTIONS + suffix
        ends = cluster.end_offsets(source)
        deadline = time.monotonic() + 120
        caught_up = False
        while time.monotonic() < deadline and not caught_up:
            committed = cluster.committed(f"driftline-{token}-latency", source)
            caught_up = all(committed.get(p, 0) >= end for p, end in ends.items())
            time.sleep(0.5)
    finally:
        worker.stop()
    decode = msgspec.json.Decoder(_Output).decode
    carried = Carried(read_records(cluster.bootstrap, topics.PREDICTIONS + suffix))
    samples: dict[str, list[dict[str, Any]]] = {}
    stats_times: list[float] = []
    for name in (topics.FEATURE_STATS, topics.DRIFT_ALERTS):
        records = sorted(read_records(cluster.bootstrap, name + suffix))
        rows = []
        for record in records:
            out = decode(record.value)
            end = out.window.end.timestamp()
            created = carried.at(out.model, end)
            rows.append(
                {
                    "latency": record.timestamp / 1000 - end,
                    "sdk": None if created is None else created - end,
                    "worker": None if created is None else record.timestamp / 1000 - created,
                    "model": out.model,
                    "kind": out.kind,
                    "subject": out.subject,
                    "status": out.status,
                }
            )
        samples[name] = rows
        if name == topics.FEATURE_STATS:
            stats_times = [r.timestamp / 1000 for r in records]
    return {
        "events": total,
        "sent_seconds": sending,
        "achieved_rate": total / sending,
        "sdk": asdict(stats),
        "caught_up": caught_up,
        "cpu_shares": {k: None if v is None else v / sending for k, v in cpu.items()},
        "machine": load,
        "longest_gap": _longest_gap(stats_times),
        "samples": samples,
    }


class _Event(msgspec.Struct):
    model: str
    ts: datetime


class Carried:
    """When each event left the SDK: the Kafka timestamp of the message that carried it
    (kafka-python sets it at ``send``), found by model and event time."""

    def __init__(self, records: list[Record]) -> None:
        decode = msgspec.json.Decoder(list[_Event] | _Event).decode
        pairs: dict[str, list[tuple[float, float]]] = {}
        for record in records:
            decoded = decode(record.value)
            for event in decoded if isinstance(decoded, list) else [decoded]:
                pairs.setdefault(event.model, []).append(
                    (event.ts.timestamp(), record.timestamp / 1000)
                )
        self._times = {model: sorted(found) for model, found in pairs.items()}
        self._keys = {model: [t for t, _ in found] for model, found in self._times.items()}

    def at(self, model: str, ts: float, tolerance: float = 1e-3) -> float | None:
        """The Kafka timestamp of the message carrying the event of ``model`` at ``ts``.

        >>> value = b'[{"model": "m", "ts": "1970-01-01T00:00:01Z"}]'
        >>> carried = Carried([Record(5000, b"m", value)])
        >>> carried.at("m", 1.0000004), carried.at("m", 2.0)
        (5.0, None)
        """
        keys = self._keys.get(model, [])
        k = bisect.bisect_left(keys, ts)
        near = [i for i in (k - 1, k) if 0 <= i < len(keys) and abs(keys[i] - ts) <= tolerance]
        if not near:
            return None
        best = min(near, key=lambda i: abs(keys[i] - ts))
        return self._times[model][best][1]


def _longest_gap(times: list[float]) -> float:
    """The longest time between two consecutive moments (0 for fewer than two).

    >>> _longest_gap([3.0, 1.0, 1.5])
    1.5
    """
    ordered = sorted(times)
    return max((b - a for a, b in itertools.pairwise(ordered)), default=0.0)


# --- the report ------------------------------------------------------------------------------


def throughput_table(rows: list[Row]) -> str:
    """The throughput table (median over runs)."""
    lines = [
        "| input | measurement | timed | runs | events timed | median s | events/s | worker CPU |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        median = statistics.median(s.seconds for s in row.samples)
        events = statistics.median(s.events for s in row.samples)
        shares = [s.info["cpu_share"] for s in row.samples if s.info.get("cpu_share") is not None]
        cpu = f"{statistics.median(shares):.0%}" if shares else ""
        lines.append(
            f"| {row.shape} | {row.name} | {row.timed} | {len(row.samples)} | {events:,.0f} "
            f"| {median:.2f} | {row.rate:,.0f} | {cpu} |"
        )
    return "\n".join(lines)


def latency_table(result: dict[str, Any]) -> str:
    """The latency table: per output topic, end to end, then its two parts."""
    lines = [
        "| output | part | samples | p50 ms | p90 ms | p99 ms | max ms "
        "| p50 first fifth | p50 last fifth |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    parts = {
        "latency": "end to end",
        "sdk": "SDK: `send_prediction` → message sent",
        "worker": "broker + worker: message sent → output sent",
    }
    for name, rows in result["samples"].items():
        for key, part in parts.items():
            values = [r[key] for r in rows if r[key] is not None]
            if not values:
                lines.append(f"| `{name}` | {part} | 0 | | | | | | |")
                continue
            s = latency_summary(values)
            lines.append(
                f"| `{name}` | {part} | {s['samples']:,} | {s['p50']:.0f} | {s['p90']:.0f} "
                f"| {s['p99']:.0f} | {s['max']:.0f} | {s['first_fifth_p50']:.0f} "
                f"| {s['last_fifth_p50']:.0f} |"
            )
    return "\n".join(lines)


def _latency_cpu_note(latency: dict[str, Any]) -> str:
    """CPU of the worker and of the sender while sending, and the worst stall."""
    shares = latency["cpu_shares"]
    worker = shares["worker"]
    worker_text = "n/a" if worker is None else f"{worker:.0%}"
    return (
        f"- While sending: worker CPU {worker_text}, this process (generator + SDK) "
        f"{shares['bench']:.0%} of a core; {machine_text(latency['machine'])}. Longest "
        "time between two feature-stats messages (normally ~25 ms): "
        f"{latency['longest_gap'] * 1000:,.0f} ms."
    )


def worker_notes(rows: list[Row]) -> list[str]:
    """Per worker row: the Ready → committed cross-check, caps, summaries used."""
    notes = []
    for row in rows:
        for k, s in enumerate(row.samples, 1):
            if "summaries" not in s.info:
                continue
            total = s.info["expected"]
            committed = s.info["ready_to_committed"]
            check = (
                f"Ready → all offsets committed {committed:.1f} s = {total / committed:,.0f} "
                "events/s"
                if committed
                else f"**stopped after {s.info['max_seconds']:.0f} s, not done**"
            )
            short = (
                " **The timed span covers under half the stream: the figure is rough.**"
                if s.events < total / 2 and not s.info["capped"]
                else ""
            )
            notes.append(
                f"- worker, {row.shape}, run {k}: {s.info['summaries']} window summaries, "
                f"{s.events:,} events timed; {machine_text(s.info['machine'])}; "
                f"{check}.{short}"
            )
    return notes


def crc_note() -> list[str]:
    """A warning when kafka-python checks and computes CRC32C in pure Python."""
    from kafka.record import util

    if getattr(util, "crc32c_c", None) is not None:
        return []
    return [
        "- kafka-python computes CRC32C in pure Python here (the optional `crc32c` "
        "module is not installed): it bounds its consume rows (`check_crcs=True`), its "
        "produce rows and the SDK's."
    ]


def versions() -> str:
    """Versions of the Kafka clients."""
    names = ("kafka-python", "aiokafka", "faust-streaming", "msgspec")
    found = []
    for name in names:
        with contextlib.suppress(metadata.PackageNotFoundError):
            found.append(f"{name} {metadata.version(name)}")
    return ", ".join(found)


def _setting(text: str) -> tuple[str, str]:
    """``NAME=VALUE`` of a ``DRIFTLINE_*`` variable."""
    name, equals, value = text.partition("=")
    if not equals or not name.startswith("DRIFTLINE_"):
        raise argparse.ArgumentTypeError(f"expected DRIFTLINE_NAME=VALUE, got {text!r}")
    return name, value


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
    parser.add_argument(
        "--env",
        type=_setting,
        action="append",
        default=[],
        metavar="DRIFTLINE_X=VALUE",
        help="a setting for every worker, e.g. DRIFTLINE_KAFKA__BATCH_MESSAGES=5000 "
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

    command = shlex.join(["python", "-m", "bench", "kafka", *argv])
    caption = (
        f"**Kafka benchmark** — `{command}` (events={stream.predictions:,}, runs={args.runs}, "
        f"partitions={args.partitions}, seed={args.seed}): {broker}; "
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} cores, {platform.machine()}; {versions()}; "
        f"{code_version(args.tree)}."
    )
    notes = [
        "",
        "- Stream: 4 interleaved models of 20 numeric + 5 categorical features "
        "(`bench/stream.py`), predictions only; one worker, default window "
        "(2,000 events, hop 500) and policy. batch = the producer SDK's messages "
        f"({stream.predictions:,} events in JSON arrays of ≤ 500 events of one model, "
        "gzip); event = one JSON object per message, no compression.",
        "- Worker rows: timed from the first Kafka timestamp at which every model has had "
        "a window summary published to the last summary; events = growth of the summed "
        "window positions over that span. Consumer rows: first record returned → last "
        "event decoded (`msgspec.json.decode`, untyped). Produce rows: first send → "
        "flushed (1 run: the load itself, or the SDK's batch messages re-sent).",
        "- worker CPU: the worker's user + system CPU seconds over the timed span / its "
        "wall seconds (1 core = 100%; `/proc` sampled every 0.2 s, interpolated).",
        *crc_note(),
        *worker_notes(rows),
    ]
    text = caption + "\n\nThroughput\n\n" + throughput_table(rows) + "\n" + "\n".join(notes)
    if latency is not None:
        sdk = latency["sdk"]
        text += (
            "\n\nAlert latency (Kafka timestamp of the output message - its `window.end`, "
            "the send time of the event that closed the window)\n\n"
            + latency_table(latency)
            + "\n\n"
            + f"- {latency['events']:,} events of 4 models (drift from a third of the way) "
            f"sent through the SDK at {latency['achieved_rate']:,.0f} events/s for "
            f"{latency['sent_seconds']:.1f} s (asked {args.rate:,.0f}/s); SDK sent "
            f"{sdk['sent']:,}, dropped {sdk['dropped']}, failed {sdk['failed']}. Worker "
            f"settings: {' '.join(f'{k}={v}' for k, v in LATENCY_ENV.items())}; it "
            + ("caught up." if latency["caught_up"] else "**had not caught up 120 s later**.")
            + "\n"
            + _latency_cpu_note(latency)
        )
    text += (
        f"\n- load average before → after: {load[0]:.2f} → {os.getloadavg()[0]:.2f}; "
        f"whole benchmark {time.perf_counter() - started:.0f} s."
    )
    if source_digest(args.tree) != digest:
        text += "\n- **warning: driftline sources changed during the run; results mix versions.**"
    text += "\n"
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
