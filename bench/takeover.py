"""Takeover benchmark: seconds from a worker's SIGKILL to its successor's first output.

Run from the repository root::

    python -m bench takeover                 # ~3 min: 5 kills in each of two scenarios
    python -m bench takeover --kills 3 --env DRIFTLINE_KAFKA__SESSION_TIMEOUT=60

The broker is ``KAFKA_BOOTSTRAP_SERVERS`` when set, else a local KRaft broker
(:func:`bench.kafka.broker.kafka_broker`). Two workers share two partitions; a producer sends
6 models (split between the partitions) through the SDK at ``--rate`` events/s, with
small windows (:data:`ENV`) so that every model has a window summary about every 0.25 s.
Per kill, once both partitions' models are being summarised: one worker is killed with
SIGKILL at ``t0``, and the measure is the Kafka timestamp (CreateTime, set by the
publishing worker) of the first summary on ``driftline.feature-stats`` of a model of the
killed worker's partition after ``t0``, minus ``t0``. Scenarios:

- **survivor**: dynamic membership; the other worker takes the partition over once
  the group drops the dead one (``kafka.session_timeout``, then a rebalance and the
  state table's recovery). The killed worker is restarted afterwards, out of the
  measure, and the next kill waits for a one-to-one split again.
- **restart**: static membership (``kafka.instance_id``); the killed worker is
  restarted at once under the same id and gets its partition back without a
  rebalance. The measure includes the new process's start (Python imports, Faust).

Prints a markdown table (median and max per scenario) and writes it to
``bench/out/takeover.md``, every sample to ``bench/out/takeover.json``.
"""

import argparse
import json
import os
import signal
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient
from kafka.partitioner import murmur2

from bench.cli import add_env_option
from bench.kafka.broker import kafka_broker
from bench.kafka.worker import Worker
from bench.stream import OUT
from producers.producer import DriftlineProducer
from producers.settings import ProducerSettings
from producers.synthetic import SyntheticModel, send_prediction
from schemas import topics
from schemas.stats import FeatureStats

__all__ = ["main"]

MODELS = ("alpha", "beta", "gamma", "delta", "epsilon", "zeta")
ENV = {
    "DRIFTLINE_WINDOW__SIZE": "200",
    "DRIFTLINE_WINDOW__HOP": "50",
    "DRIFTLINE_REFERENCE__WARMUP_EVENTS": "200",
    "DRIFTLINE_KAFKA__PARTITIONS": "2",
}


def log(message: str) -> None:
    """Progress on stderr."""
    print(f"{time.strftime('%X')} takeover: {message}", file=sys.stderr, flush=True)


class Fleet:
    """Two workers on topics of their own, a paced producer, and the group's view."""

    def __init__(self, bootstrap: str, scratch: Path, static: bool, env: dict[str, str]) -> None:
        self.bootstrap = bootstrap
        self.scratch = scratch
        self.static = static
        self.suffix = f"-takeover-{uuid.uuid4().hex[:8]}"
        self.env = {
            **os.environ,
            **ENV,
            "DRIFTLINE_KAFKA__BROKER": f"kafka://{bootstrap}",
            "DRIFTLINE_KAFKA__TOPIC_SUFFIX": self.suffix,
            "DRIFTLINE_KAFKA__APP_ID": f"driftline{self.suffix}",
            **env,
        }
        self.workers: dict[str, Worker] = {}
        self.admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        self.stop_sending = threading.Event()
        # where the SDK's producer (murmur2 of the key, as Java) sends each model
        self.partition = {m: (murmur2(m.encode()) & 0x7FFFFFFF) % 2 for m in MODELS}
        if set(self.partition.values()) != {0, 1}:
            raise SystemExit("bench: the models all land on one partition")

    def start(self, name: str) -> None:
        """Start worker ``name`` (static members are named after it)."""
        env = {**self.env, "BROKER_CLIENT_ID": name}  # Faust's own setting: tells members apart
        if self.static:
            env["DRIFTLINE_KAFKA__INSTANCE_ID"] = name
        self.workers[name] = Worker(env, self.scratch / f"{name}.log", append=True)

    def kill(self, name: str) -> float:
        """SIGKILL worker ``name``; the wall-clock time of the kill."""
        killed = time.time()
        self.workers[name].kill()
        return killed

    def owners(self) -> dict[int, str]:
        """Prediction partition -> the name of the worker that owns it."""
        group = f"driftline{self.suffix}"
        described = self.admin.describe_groups([group])[group]
        topic = topics.PREDICTIONS + self.suffix
        owners = {}
        for member in described["members"]:
            assignment = member["member_assignment"]
            if not isinstance(assignment, dict):  # none yet (the group is rebalancing)
                continue
            for assigned in assignment["assigned_partitions"]:
                if assigned["topic"] == topic:
                    for partition in assigned["partitions"]:
                        owners[partition] = member["client_id"]
        return owners

    def wait_split(self, timeout: float = 180.0) -> dict[int, str]:
        """Wait until each worker owns one partition; the owners."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            owners = self.owners()
            if len(owners) == 2 and len(set(owners.values())) == 2:
                return owners
            time.sleep(0.5)
        raise SystemExit(f"bench: no one-to-one split after {timeout:.0f} s")

    def send(self, rate: float, streams: list[list[dict[str, Any]]]) -> None:
        """Send predictions of every model at ``rate`` events/s until told to stop."""
        settings = ProducerSettings(
            broker=self.bootstrap,
            predictions_topic=topics.PREDICTIONS + self.suffix,
            linger_ms=20,
        )
        with DriftlineProducer(settings) as producer:
            started, sent = time.monotonic(), 0
            while not self.stop_sending.is_set():
                for stream in streams:
                    send_prediction(producer, stream[sent % len(stream)], ts=time.time())
                sent += 1
                ahead = sent * len(MODELS) / rate - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)

    def close(self) -> None:
        self.stop_sending.set()
        for worker in self.workers.values():
            worker.kill()
        self.admin.close()


def first_output(fleet: Fleet, stats: KafkaConsumer, partition: int, after: float) -> float:
    """Kafka timestamp (s) of the first summary of a model of ``partition`` after
    ``after`` (wall clock)."""
    models = {m for m, p in fleet.partition.items() if p == partition}
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        for name, worker in fleet.workers.items():
            if worker.process.poll() not in (None, -signal.SIGKILL):
                raise SystemExit(f"bench: worker {name} exited ({worker.process.returncode})")
        for records in stats.poll(timeout_ms=200).values():
            for record in records:
                if record.timestamp / 1000 > after:
                    model = FeatureStats.model_validate_json(record.value).model
                    if model in models:
                        return float(record.timestamp / 1000)
    raise SystemExit("bench: no output of the killed worker's partition after 300 s")


def scenario(bootstrap: str, scratch: Path, static: bool, args: argparse.Namespace) -> list[float]:
    """Seconds from kill to first output, per kill."""
    fleet = Fleet(bootstrap, scratch, static, dict(args.env))
    name = "restart" if static else "survivor"
    streams = [SyntheticModel(m, seed=i).generate(20_000)[0] for i, m in enumerate(MODELS)]
    sender = threading.Thread(target=fleet.send, args=(args.rate, streams), daemon=True)
    stats = KafkaConsumer(bootstrap_servers=bootstrap)
    seconds = []
    try:
        fleet.start("w0")
        time.sleep(8)  # the first creates the topics
        fleet.start("w1")
        sender.start()
        stats.assign([TopicPartition(topics.FEATURE_STATS + fleet.suffix, p) for p in (0, 1)])
        for kill in range(args.kills):
            owners = fleet.wait_split()
            victim = f"w{kill % 2}"
            partition = next(p for p, owner in owners.items() if owner == victim)
            time.sleep(args.settle)
            stats.seek_to_end()
            for p in (0, 1):  # both workers are publishing
                first_output(fleet, stats, p, time.time())
            stats.seek_to_end()
            killed = fleet.kill(victim)
            if static:
                fleet.start(victim)
            took = first_output(fleet, stats, partition, killed) - killed
            seconds.append(took)
            log(f"{name}: kill {kill + 1}: {took:.1f} s from SIGKILL to the first output")
            if not static:
                fleet.start(victim)
    finally:
        fleet.close()
        stats.close()
    return seconds


def main(argv: list[str]) -> int:
    """Run both scenarios, print and write the table."""
    parser = argparse.ArgumentParser(prog="python -m bench takeover", description=__doc__)
    parser.add_argument("--kills", type=int, default=5, help="kills per scenario")
    parser.add_argument("--rate", type=float, default=1200.0, help="events/s sent")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds before each kill")
    add_env_option(parser, "a setting for every worker, e.g. DRIFTLINE_KAFKA__SESSION_TIMEOUT=60")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {"env": dict(args.env), "rate": args.rate}
    with kafka_broker() as (bootstrap, broker):
        scratch = Path(os.environ.get("TMPDIR", "/tmp")) / f"takeover-{uuid.uuid4().hex[:8]}"
        scratch.mkdir(parents=True)
        results["broker"] = broker
        for static in (False, True):
            name = "restart" if static else "survivor"
            results[name] = scenario(bootstrap, scratch, static, args)
    settings = ", ".join(f"{k}={v}" for k, v in args.env) or "defaults"
    lines = [
        f"Kill -9 to the successor's first window summary ({settings}; {results['broker']})",
        "",
        "| scenario | kills | median | max |",
        "|---|---:|---:|---:|",
    ]
    for name, label in (
        ("survivor", "a second worker takes over (dynamic membership)"),
        ("restart", "restarted under the same `kafka.instance_id` (static membership)"),
    ):
        samples = results[name]
        lines.append(
            f"| {label} | {len(samples)} | {statistics.median(samples):.1f} s "
            f"| {max(samples):.1f} s |"
        )
    table = "\n".join(lines)
    print(table)
    OUT.mkdir(exist_ok=True)
    (OUT / "takeover.md").write_text(table + "\n")
    (OUT / "takeover.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
