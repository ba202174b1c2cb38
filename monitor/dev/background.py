"""The broker of ``driftline dev kafka``: started in the background, found again, stopped.

:func:`start` runs a :class:`~monitor.dev.kafka.LocalKafka` that outlives the command
which started it, and records it in a small JSON file (:func:`state_file`,
``${XDG_STATE_HOME:-~/.local/state}/driftline/kafka.json``): pid, addresses, work dir
and start time. :func:`recorded`, :func:`is_running` and :func:`stop` read it. A
recorded pid counts as the broker only while that process is a Kafka JVM started on the
recorded work dir, so a pid the system has given to another process is never signalled.
A file lock beside the state file keeps two commands from starting two brokers.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from monitor.dev.kafka import SASL_MECHANISMS, LocalKafka, Progress

__all__ = ["Broker", "is_running", "recorded", "start", "state_file", "stop"]


class Broker(msgspec.Struct, frozen=True):
    """A broker started by :func:`start`, as its state file records it.

    Addresses of listeners it did not open are ``""``; ``sasl_users`` holds the user
    names only (no password is written down).

    >>> broker = Broker(pid=7, version="4.4.0", bootstrap="127.0.0.1:9092",
    ...                 workdir="/tmp/driftline-kafka-x", started=datetime(2026, 1, 1, tzinfo=UTC))
    >>> broker.log_file
    PosixPath('/tmp/driftline-kafka-x/server.log')
    >>> msgspec.json.decode(msgspec.json.encode(broker), type=Broker) == broker
    True
    """

    pid: int
    version: str
    bootstrap: str
    workdir: str
    started: datetime
    sasl_bootstrap: str = ""
    ssl_bootstrap: str = ""
    sasl_ssl_bootstrap: str = ""
    ca_file: str = ""
    sasl_users: tuple[str, ...] = ()
    sasl_mechanisms: tuple[str, ...] = ()

    @property
    def log_file(self) -> Path:
        """The broker's log (log4j's ``server.log`` in its work dir)."""
        return Path(self.workdir) / "server.log"


def state_file() -> Path:
    """Where :func:`start` records its broker: under the user's state dir."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "driftline" / "kafka.json"


def recorded() -> Broker | None:
    """The broker the state file records (running or not), or None."""
    try:
        return msgspec.json.decode(state_file().read_bytes(), type=Broker)
    except (OSError, msgspec.ValidationError, msgspec.DecodeError):
        return None


def is_running(broker: Broker) -> bool:
    """True while the recorded pid is a Kafka JVM started on the recorded work dir."""
    command = _command_line(broker.pid)
    return b"kafka.Kafka" in command and broker.workdir.encode() in command


def start(
    *,
    port: int | None = None,
    sasl_users: Mapping[str, str] | None = None,
    tls: bool = False,
    progress: Progress | None = None,
) -> tuple[Broker, bool]:
    """Start a broker in the background, unless one is running; it and whether it is new.

    A record of a broker that has exited is cleared first (its work dir too). Raises
    what :meth:`LocalKafka.start` raises: no Java, no Maven, a port taken, a broker that
    does not come up.
    """
    with _locked():
        current = recorded()
        if current is not None:
            if is_running(current):
                return current, False
            _forget(current)
        kafka = LocalKafka(port=port, sasl_users=sasl_users, tls=tls, progress=progress)
        kafka.start()
        assert kafka.process is not None
        assert kafka.workdir is not None
        broker = Broker(
            pid=kafka.process.pid,
            version=kafka.version,
            bootstrap=kafka.bootstrap,
            workdir=str(kafka.workdir),
            started=datetime.now(UTC).replace(microsecond=0),
            sasl_bootstrap=kafka.sasl_bootstrap,
            ssl_bootstrap=kafka.ssl_bootstrap,
            sasl_ssl_bootstrap=kafka.sasl_ssl_bootstrap,
            ca_file=str(kafka.ca_file or ""),
            sasl_users=tuple(sasl_users or ()),
            sasl_mechanisms=SASL_MECHANISMS if sasl_users else (),
        )
        saved = state_file().with_suffix(".json.new")
        saved.write_bytes(msgspec.json.encode(broker))
        saved.replace(state_file())
        return broker, True


def stop(timeout: float = 20.0) -> Broker | None:
    """Stop the recorded broker (SIGTERM, then SIGKILL after ``timeout`` s), remove its
    work dir and record; the broker stopped, or None when none was running."""
    with _locked():
        broker = recorded()
        if broker is None:
            return None
        running = is_running(broker)
        if running:
            _terminate(broker, timeout)
        _forget(broker)
        return broker if running else None


def _terminate(broker: Broker, timeout: float) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(broker.pid, signal.SIGTERM)  # a controlled shutdown
    deadline = time.monotonic() + timeout
    while is_running(broker):
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(broker.pid, signal.SIGKILL)
            return
        time.sleep(0.1)


def _forget(broker: Broker) -> None:
    shutil.rmtree(broker.workdir, ignore_errors=True)
    state_file().unlink(missing_ok=True)


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    """Hold the lock of the state file (made with its folder if need be)."""
    path = state_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.with_suffix(".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _command_line(pid: int) -> bytes:
    """The process's command line (empty when it is gone or a zombie)."""
    proc = Path("/proc")
    if proc.is_dir():
        try:
            return (proc / str(pid) / "cmdline").read_bytes()
        except OSError:
            return b""
    ps = shutil.which("ps")  # macOS and the BSDs have no /proc
    if ps is None:
        return b""
    listed = subprocess.run([ps, "-o", "command=", "-p", str(pid)], capture_output=True)
    return listed.stdout if listed.returncode == 0 else b""
