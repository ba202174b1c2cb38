"""The Kafka benchmark's workers: a ``driftline worker`` process, and one timed on a
loaded topic by the window summaries it publishes (see :mod:`bench.kafka`)."""

import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import msgspec

from bench.kafka.broker import Cluster, read_records
from bench.kafka.figures import Sample, interpolate, progress_rate
from bench.machine import machine_counters, machine_shares, process_cpu_seconds
from bench.stream import ROOT, clean_env, services
from monitor.kafka.admin import by_model_topic
from monitor.settings import KafkaSettings
from schemas import topics

__all__ = ["READY", "Output", "Setup", "Worker", "measure_worker"]

READY = b"[^Worker]: Ready"


class Worker:
    """``python -m monitor.cli.main worker`` in a process of its own, logging to a file
    (``append``: after what an earlier worker of the same name wrote there)."""

    def __init__(
        self,
        env: dict[str, str],
        log_file: Path,
        *,
        reference: Path | None = None,
        cwd: Path | None = None,
        append: bool = False,
    ) -> None:
        self.log_file = log_file
        command = [sys.executable, "-m", "monitor.cli.main", "worker"]
        if reference is not None:
            command += ["--reference", str(reference)]
        with log_file.open("ab" if append else "wb") as out:
            self.process = subprocess.Popen(
                command,
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
        return process_cpu_seconds(self.process.pid)

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

    def kill(self) -> None:
        """SIGKILL, and wait for the end."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)


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
        return Worker(env, log_file, reference=self.reference, cwd=self.tree or ROOT)


class Window(msgspec.Struct):
    """The part of an output's window the benchmark reads."""

    end: datetime


class Output(msgspec.Struct):
    """The fields of a feature-stats or alert message the benchmark reads."""

    model: str
    window: Window
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
    decode = msgspec.json.Decoder(Output).decode
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
