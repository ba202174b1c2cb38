"""Hostile cardinality on a real broker: 20,000 distinct model names sent with kcat
(librdkafka) to a worker holding at most 3 models. Every event of a model past the cap
is dead-lettered with the setting to raise, the worker stays up, its state (the
changelog of its table) holds 3 models, and the models it holds go on being monitored.
"""

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import msgspec
import pytest
from kafka import KafkaConsumer

from schemas import topics
from schemas.dead_letter import DeadLetter
from schemas.stats import FeatureStats
from tests.kafka.processes import start_worker, stop_worker

pytestmark = pytest.mark.kafka

HOSTILE = 20_000
GOOD = ("good-a", "good-b")
ENV = {
    "DRIFTLINE_WINDOW__SIZE": "200",
    "DRIFTLINE_WINDOW__HOP": "100",
    "DRIFTLINE_REFERENCE__WARMUP_EVENTS": "200",
    "DRIFTLINE_LIMITS__MAX_MODELS": "3",
}
BASE_TS = 1_800_000_000
Seen = list[tuple[bytes, bytes]]


@dataclass
class Deployment:
    bootstrap: str
    suffix: str
    logs: Path

    @property
    def app_id(self) -> str:
        return f"driftline{self.suffix}"

    def topic(self, name: str) -> str:
        return name + self.suffix

    def start_worker(self) -> subprocess.Popen[bytes]:
        env = os.environ | ENV
        env |= {
            "DRIFTLINE_KAFKA__BROKER": f"kafka://{self.bootstrap}",
            "DRIFTLINE_KAFKA__TOPIC_SUFFIX": self.suffix,
            "DRIFTLINE_KAFKA__APP_ID": self.app_id,
            "DRIFTLINE_KAFKA__PARTITIONS": "2",
        }
        return start_worker(env, self.logs / "worker.log")

    def kcat(self, lines: list[str]) -> None:
        """Send ``key<TAB>value`` lines to the predictions topic with kcat."""
        sent = subprocess.run(
            ["kcat", "-P", "-b", self.bootstrap, "-t", self.topic(topics.PREDICTIONS), "-K\t"],
            input="\n".join(lines).encode() + b"\n",
            capture_output=True,
            timeout=120,
        )
        assert sent.returncode == 0, sent.stderr.decode()

    def read(self, topic: str, done: Callable[[Seen], bool], timeout: float = 120.0) -> Seen:
        """``(key, value)`` of the messages of ``topic`` from the start, once ``done``
        says they are enough, or at the timeout."""
        consumer = KafkaConsumer(
            topic, bootstrap_servers=self.bootstrap, auto_offset_reset="earliest"
        )
        seen: Seen = []
        try:
            deadline = time.monotonic() + timeout
            while not done(seen) and time.monotonic() < deadline:
                for records in consumer.poll(timeout_ms=1000).values():
                    seen += [(r.key, r.value) for r in records]
        finally:
            consumer.close()
        return seen


def prediction(i: int, model: str) -> str:
    event = {
        "event_id": f"{model}-{i}",
        "model": model,
        "ts": BASE_TS + i,
        "features": {"x": float(i % 17), "c": "abc"[i % 3]},
        "prediction": (i % 10) / 10,
    }
    return f"{model}\t{msgspec.json.encode(event).decode()}"


def good(start: int, stop: int) -> Iterator[str]:
    return (prediction(i, GOOD[i % 2]) for i in range(start, stop))


@pytest.fixture
def deployment(kafka_bootstrap: str, tmp_path: Path) -> Deployment:
    if shutil.which("kcat") is None:
        pytest.fail("kcat is not installed (Debian package kcat; .ci/run installs it)")
    return Deployment(kafka_bootstrap, f"-{uuid.uuid4().hex[:10]}", tmp_path)


def test_distinct_model_names_past_the_cap_are_dead_lettered(deployment: Deployment) -> None:
    worker = deployment.start_worker()
    try:
        stats_topic = deployment.topic(topics.FEATURE_STATS)

        def windows_until(end: int) -> Callable[[Seen], bool]:
            """Whether both good models have a window ending at their last event before
            ``end``."""

            def done(seen: Seen) -> bool:
                last = dict.fromkeys(GOOD, 0.0)
                for _, value in seen:
                    stats = FeatureStats.model_validate_json(value)
                    last[stats.model] = max(last[stats.model], stats.window.end.timestamp())
                return min(last.values()) >= BASE_TS + end - 2

            return done

        # the good models come first (200 events warm up, then windows): once their
        # windows are out, they are held
        deployment.kcat(list(good(0, 1000)))
        assert windows_until(1000)(deployment.read(stats_topic, windows_until(1000)))

        names = [f"h-{uuid.uuid4().hex[:12]}" for _ in range(HOSTILE)]
        deployment.kcat([prediction(1000 + i, name) for i, name in enumerate(names)])
        end = 1000 + HOSTILE + 1000
        deployment.kcat(list(good(1000 + HOSTILE, end)))

        refused = HOSTILE - 1  # one hostile model fills the third place
        letters = [
            DeadLetter.model_validate_json(value)
            for _, value in deployment.read(
                deployment.topic(topics.DEAD_LETTER), lambda seen: len(seen) >= refused
            )
        ]
        assert len(letters) == refused
        assert all(d.reason.startswith("model_limit: ") for d in letters)
        assert all("over limits.max_models (3)" in d.reason for d in letters)
        refused_models = {msgspec.json.decode(d.payload)["model"] for d in letters}
        assert len(refused_models) == refused
        assert refused_models < set(names)
        source = f"{deployment.topic(topics.PREDICTIONS)}/"
        assert all(d.source.startswith(source) and "@" in d.source for d in letters)

        # the good models are still monitored after the flood, and the worker is up
        assert windows_until(end)(deployment.read(stats_topic, windows_until(end)))
        assert worker.poll() is None

        # its state: checkpoints of the 3 models it holds, nothing of the others
        changelog = f"{deployment.app_id}-state-changelog"
        keys = {key for key, _ in deployment.read(changelog, lambda seen: False, timeout=5)}
        models = {key.split(b"\x1f")[0].decode() for key in keys}
        assert set(GOOD) < models
        assert len(models) == 3
        assert models - set(GOOD) == set(names) - refused_models
        log = (deployment.logs / "worker.log").read_text(errors="replace")
        assert "events refused by limits.max_models so far: " in log
    finally:
        stop_worker(worker)
