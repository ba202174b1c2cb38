"""The Kafka benchmark's alert latency: paced SDK traffic into a running worker, and the
latency of every output message, split at the message that carried the closing event."""

import bisect
import itertools
import time
from dataclasses import asdict
from datetime import datetime
from typing import Any

import msgspec

from bench.cli import log
from bench.kafka.broker import Record, read_records
from bench.kafka.load import latency_models, paced_events
from bench.kafka.worker import Output, Setup
from bench.machine import machine_counters, machine_shares
from producers.producer import DriftlineProducer
from producers.settings import ProducerSettings
from producers.synthetic import send_prediction
from schemas import topics

__all__ = ["LATENCY_ENV", "Carried", "measure_latency"]

LATENCY_ENV = {
    "DRIFTLINE_WINDOW__SIZE": "1000",
    "DRIFTLINE_WINDOW__HOP": "250",
    "DRIFTLINE_POLICY__FIRE_AFTER": "1",
}
"""Settings of the latency worker: a window closes every 250 events of a model."""


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
            broker=cluster.bootstrap, predictions_topic=topics.PREDICTIONS + suffix
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
    decode = msgspec.json.Decoder(Output).decode
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
