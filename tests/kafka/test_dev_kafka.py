"""``driftline dev kafka start``, ``status`` and ``stop`` run a real broker in the background.

The commands run as processes of their own, as from a shell: the broker must outlive
``start``, and ``status`` and ``stop`` find it from the state file alone. The state dir
is the test's own (``XDG_STATE_HOME``), so no other broker is seen or stopped; the jars
come from the usual cache.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from kafka import KafkaProducer

from monitor.dev.kafka import java_executable
from tests.kafka.missing import broker_unavailable

pytestmark = pytest.mark.kafka


def driftline(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "monitor.cli.main", "dev", "kafka", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


def test_start_status_stop(tmp_path: Path) -> None:
    try:
        java_executable()
    except RuntimeError as error:
        broker_unavailable(str(error))
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    started = driftline(env, "start", "--sasl-user", "alice:secret")
    try:
        if "is not on PATH" in started.stderr or "could not fetch" in started.stderr:
            broker_unavailable(started.stderr)
        assert started.returncode == 0, started.stderr
        exports = dict(
            line.removeprefix("export ").split("=", 1) for line in started.stdout.splitlines()
        )
        address = exports["KAFKA_BOOTSTRAP_SERVERS"]
        assert exports["DRIFTLINE_KAFKA__BROKER"] == f"kafka://{address}"
        log = next(line for line in started.stderr.splitlines() if line.startswith("# log: "))
        assert Path(log.removeprefix("# log: ")).is_file()

        producer = KafkaProducer(bootstrap_servers=address)  # it answers, after start exited
        try:
            producer.send("driftline-dev-kafka-test", b"hello").get(timeout=30)
        finally:
            producer.close()

        status = driftline(env, "status")
        assert status.returncode == 0, status.stdout + status.stderr
        assert status.stdout.startswith(f"running: Kafka 4.4.0 at {address} (pid ")
        assert "since 20" in status.stdout
        assert "SASL_PLAINTEXT at 127.0.0.1:" in status.stdout
        assert "users alice" in status.stdout

        again = driftline(env, "start")
        assert again.returncode == 0
        assert f"KAFKA_BOOTSTRAP_SERVERS={address}" in again.stdout
        assert "already running" in again.stderr
    finally:
        stopped = driftline(env, "stop")
    assert stopped.returncode == 0
    assert stopped.stdout.startswith(f"stopped Kafka 4.4.0 at {address}")
    assert driftline(env, "status").returncode == 1
    assert not Path(log.removeprefix("# log: ")).exists()
