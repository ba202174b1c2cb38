"""`driftline worker` processes for the Kafka tests: started, awaited, stopped."""

import subprocess
import sys
import time
from pathlib import Path

import pytest

__all__ = ["start_worker", "stop_worker"]


def start_worker(
    env: dict[str, str], log: Path, reference: Path | None = None, timeout: float = 90.0
) -> subprocess.Popen[bytes]:
    """A worker process with ``env``, once its log says it is ready; it fails the test,
    with the log's tail, if the worker exits or is not ready within ``timeout`` s."""
    command = [sys.executable, "-m", "monitor.cli.main", "worker"]
    if reference is not None:
        command += ["--reference", str(reference)]
    with log.open("wb") as out:
        worker = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while b"[^Worker]: Ready" not in log.read_bytes():
        if worker.poll() is not None or time.monotonic() > deadline:
            stop_worker(worker)
            pytest.fail(f"the worker did not start:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.3)
    return worker


def stop_worker(worker: subprocess.Popen[bytes]) -> None:
    """Stop a worker (SIGTERM, then SIGKILL after 30 s)."""
    worker.terminate()
    try:
        worker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()
