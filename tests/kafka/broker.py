"""Run a local single-node KRaft Apache Kafka broker from the jars on Maven Central.

No Docker is needed: only Java 17 and Maven (``mvn``). The first use downloads
``org.apache.kafka:kafka_2.13`` and a log4j2 backend with Maven into
``${XDG_CACHE_HOME:-~/.cache}/driftline/kafka-<VERSION>/libs``; later uses reuse it.

Each :class:`LocalKafka` gets two free loopback ports (broker and controller),
a fresh temporary log dir and a random cluster id, runs in combined
broker+controller mode and is ready once its log says ``Kafka Server started``.

With ``sasl_users={"alice": "secret"}`` it also opens a ``SASL_PLAINTEXT`` listener
(a third port, ``sasl_bootstrap``) that accepts those users with the mechanisms in
:data:`SASL_MECHANISMS`: PLAIN users are listed in the listener's JAAS config, SCRAM
credentials are written to the metadata log when the storage is formatted. The
PLAINTEXT listener stays for the controller and inter-broker traffic (and for tests
that need no login); no authorizer runs, so any authenticated user may do anything.

Version choice: :data:`KAFKA_VERSION` is the newest Kafka 4.x on Maven Central at
the time of writing. It was verified against kafka-python 3.0.12 and aiokafka 0.14
(produce and consume, create and describe topics with the admin clients, list
offsets) by ``tests/kafka/test_broker.py``.

Use it from Python::

    with LocalKafka() as kafka:
        producer = KafkaProducer(bootstrap_servers=kafka.bootstrap)

    with LocalKafka(sasl_users={"alice": "secret"}) as kafka:
        producer = KafkaProducer(
            bootstrap_servers=kafka.sasl_bootstrap,
            security_protocol="SASL_PLAINTEXT",
            sasl_mechanism="SCRAM-SHA-512",  # or "PLAIN"
            sasl_plain_username="alice",
            sasl_plain_password="secret",
        )

or from a shell (state lives in the cache dir)::

    eval "$(python -m tests.kafka.broker start)"   # exports KAFKA_BOOTSTRAP_SERVERS
    python -m tests.kafka.broker status
    python -m tests.kafka.broker stop
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

KAFKA_VERSION = "4.4.0"
"""Apache Kafka release run by :class:`LocalKafka` (``org.apache.kafka:kafka_2.13``)."""

LOG4J_VERSION = "2.24.3"
"""log4j2 backend: Kafka 4.x's POM carries no logging implementation."""

READY_LINE = "Kafka Server started"
"""Log line (logger ``kafka.server.KafkaRaftServer``) that marks the broker ready."""

SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-512")
"""SASL mechanisms of the ``SASL_PLAINTEXT`` listener opened by ``sasl_users``."""

_SASL_TOKEN = re.compile(r"[A-Za-z0-9._-]+")
"""User names and passwords allowed in ``sasl_users``: nothing to quote in a JAAS
config, a properties file or StorageTool's ``--add-scram`` argument."""

_POM = """\
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>driftline</groupId>
  <artifactId>kafka-test-broker</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>{kafka}</version>
    </dependency>
{logging}
  </dependencies>
</project>
"""

_LOG4J_ARTIFACTS = ("log4j-api", "log4j-core", "log4j-slf4j-impl", "log4j-1.2-api")

_LOG4J2_PROPERTIES = """\
status = warn
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = {log_file}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
"""


class KafkaUnavailableError(RuntimeError):
    """A local broker cannot be run here (no Java or Maven, or the download failed)."""


class KafkaStartError(RuntimeError):
    """The broker process exited or did not become ready in time."""


def cache_dir(version: str = KAFKA_VERSION) -> Path:
    """Directory holding the jars and CLI state for ``version``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "driftline" / f"kafka-{version}"


def ensure_jars(version: str = KAFKA_VERSION) -> Path:
    """Download the broker jars once with Maven; return the ``libs`` directory.

    A ``.complete`` marker records a finished download, and a file lock keeps
    concurrent callers from downloading twice.
    """
    root = cache_dir(version)
    libs = root / "libs"
    marker = libs / ".complete"
    if marker.exists():
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise KafkaUnavailableError("Maven (mvn) is not on PATH; it is needed to fetch Kafka")
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists():
            return libs
        logging = "\n".join(
            "    <dependency>\n"
            "      <groupId>org.apache.logging.log4j</groupId>\n"
            f"      <artifactId>{artifact}</artifactId>\n"
            f"      <version>{LOG4J_VERSION}</version>\n"
            "    </dependency>"
            for artifact in _LOG4J_ARTIFACTS
        )
        pom = root / "pom.xml"
        pom.write_text(_POM.format(kafka=version, logging=logging))
        shutil.rmtree(libs, ignore_errors=True)
        command = [
            mvn,
            "-q",
            "-B",
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={libs}",
            "-DincludeScope=runtime",
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            tail = (result.stdout + result.stderr)[-3000:]
            raise KafkaUnavailableError(f"mvn could not fetch Kafka {version}:\n{tail}")
        marker.touch()
    return libs


def free_port() -> int:
    """A currently unused TCP port on 127.0.0.1 (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def free_ports(count: int) -> list[int]:
    """``count`` distinct unused TCP ports on 127.0.0.1 (all bound at once, then freed)."""
    with contextlib.ExitStack() as stack:
        sockets = [
            stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            for _ in range(count)
        ]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]


def random_cluster_id() -> str:
    """A cluster id in Kafka's format: 16 random bytes, URL-safe base64, no padding."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):  # Kafka avoids ids that look like CLI flags
            return cluster_id


def check_sasl_users(users: Mapping[str, str]) -> None:
    """Raise ``ValueError`` unless every user name and password is a plain token.

    >>> check_sasl_users({"alice": "secret"})
    >>> check_sasl_users({"alice": 'say "hi"'})
    Traceback (most recent call last):
    ValueError: SASL user names and passwords must match [A-Za-z0-9._-]+ (user 'alice')
    """
    for user, password in users.items():
        if not (_SASL_TOKEN.fullmatch(user) and _SASL_TOKEN.fullmatch(password)):
            raise ValueError(
                f"SASL user names and passwords must match {_SASL_TOKEN.pattern} (user {user!r})"
            )


def server_properties(
    *,
    broker_port: int,
    controller_port: int,
    data_dir: Path,
    sasl_port: int | None = None,
    sasl_users: Mapping[str, str] | None = None,
) -> str:
    """server.properties for a combined broker+controller with static quorum voters.

    With ``sasl_port``, a ``SASL_PLAINTEXT`` listener there accepts ``sasl_users`` with
    PLAIN (users in its JAAS config) and SCRAM-SHA-512 (credentials added at format time).

    >>> text = server_properties(broker_port=1, controller_port=2, data_dir=Path("d"),
    ...                          sasl_port=3, sasl_users={"alice": "secret"})
    >>> print([line for line in text.splitlines() if "plain.sasl.jaas" in line][0])
    listener.name.sasl_plaintext.plain...PlainLoginModule required user_alice="secret";
    """
    listeners = f"PLAINTEXT://127.0.0.1:{broker_port}"
    protocols = "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
    if sasl_port is not None:
        listeners += f",SASL_PLAINTEXT://127.0.0.1:{sasl_port}"
        protocols += ",SASL_PLAINTEXT:SASL_PLAINTEXT"
    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
        "listeners": f"{listeners},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": listeners,
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": protocols,
        "log.dirs": str(data_dir),
        "num.partitions": "1",
        "auto.create.topics.enable": "true",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
    }
    if sasl_port is not None:
        users = dict(sasl_users or {})
        check_sasl_users(users)
        plain_users = "".join(f' user_{user}="{password}"' for user, password in users.items())
        prefix = "listener.name.sasl_plaintext"
        settings |= {
            "sasl.enabled.mechanisms": ",".join(SASL_MECHANISMS),
            f"{prefix}.plain.sasl.jaas.config": (
                f"org.apache.kafka.common.security.plain.PlainLoginModule required{plain_users};"
            ),
            f"{prefix}.scram-sha-512.sasl.jaas.config": (
                "org.apache.kafka.common.security.scram.ScramLoginModule required;"
            ),
        }
    return "".join(f"{key}={value}\n" for key, value in settings.items())


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _is_broker(pid: int) -> bool:
    """True when ``pid`` is alive and is a ``kafka.Kafka`` JVM (guards against pid reuse)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"kafka.Kafka" in cmdline


def stop_process(pid: int, timeout: float = 20.0) -> None:
    """SIGTERM ``pid``, wait up to ``timeout`` seconds, then SIGKILL it."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _is_broker(pid):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


class LocalKafka:
    """A single-node KRaft Kafka broker in a subprocess; a context manager.

    ``bootstrap`` is ``"127.0.0.1:PORT"`` (PLAINTEXT) once started. With ``sasl_users``
    (user name to password), ``sasl_bootstrap`` is the address of a ``SASL_PLAINTEXT``
    listener that accepts them with PLAIN or SCRAM-SHA-512; without, it stays ``""``.
    The work dir (config, data, ``server.log``) is temporary and removed on :meth:`stop`.
    """

    def __init__(
        self,
        version: str = KAFKA_VERSION,
        *,
        start_timeout: float = 90.0,
        heap: str = "512m",
        sasl_users: Mapping[str, str] | None = None,
    ) -> None:
        if sasl_users is not None:
            check_sasl_users(sasl_users)
        self.version = version
        self.start_timeout = start_timeout
        self.heap = heap
        self.sasl_users = dict(sasl_users) if sasl_users is not None else None
        self.bootstrap = ""
        self.sasl_bootstrap = ""
        self.workdir: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def log_file(self) -> Path:
        """The broker's log4j output."""
        if self.workdir is None:
            raise RuntimeError("broker not started")
        return self.workdir / "server.log"

    def _java(self, libs: Path, log_config: Path) -> list[str]:
        java = shutil.which("java")
        if java is None:
            raise KafkaUnavailableError("java is not on PATH; Kafka 4.x needs Java 17+")
        return [
            java,
            f"-Xmx{self.heap}",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={log_config}",
            "-cp",
            f"{libs}/*",
        ]

    def start(self) -> str:
        """Download jars if needed, format storage, start the broker, wait until ready."""
        libs = ensure_jars(self.version)
        self.workdir = Path(tempfile.mkdtemp(prefix="driftline-kafka-"))
        try:
            return self._start(libs, self.workdir)
        except BaseException:
            self.stop()
            raise

    def _start(self, libs: Path, workdir: Path) -> str:
        sasl = self.sasl_users is not None
        broker_port, controller_port, *extra = free_ports(3 if sasl else 2)
        sasl_port = extra[0] if sasl else None
        config = workdir / "server.properties"
        config.write_text(
            server_properties(
                broker_port=broker_port,
                controller_port=controller_port,
                data_dir=workdir / "data",
                sasl_port=sasl_port,
                sasl_users=self.sasl_users,
            )
        )
        log_config = workdir / "log4j2.properties"
        log_config.write_text(_LOG4J2_PROPERTIES.format(log_file=workdir / "server.log"))
        java = self._java(libs, log_config)

        format_command = [
            *java,
            "kafka.tools.StorageTool",
            "format",
            "-t",
            random_cluster_id(),
            "-c",
            str(config),
            "--ignore-formatted",
        ]
        for user, password in (self.sasl_users or {}).items():
            format_command += ["--add-scram", f"SCRAM-SHA-512=[name={user},password={password}]"]
        formatted = subprocess.run(format_command, capture_output=True, text=True, check=False)
        if formatted.returncode != 0:
            raise KafkaStartError(
                f"kafka.tools.StorageTool format failed ({formatted.returncode}):\n"
                f"{formatted.stdout}{formatted.stderr}"
            )

        console = workdir / "console.log"
        with console.open("wb") as out:
            self.process = subprocess.Popen(
                [*java, "kafka.Kafka", str(config)],
                cwd=workdir,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # survives the CLI; no stray Ctrl-C from the terminal
            )
        self._wait_ready(console)
        self.bootstrap = f"127.0.0.1:{broker_port}"
        if sasl_port is not None:
            self.sasl_bootstrap = f"127.0.0.1:{sasl_port}"
        return self.bootstrap

    def _wait_ready(self, console: Path) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.log_file.exists() and READY_LINE in self.log_file.read_text(errors="replace"):
                return
            if self.process.poll() is not None:
                raise KafkaStartError(
                    f"Kafka exited with code {self.process.returncode} before it was ready.\n"
                    f"--- server.log ---\n{_tail(self.log_file)}\n"
                    f"--- console ---\n{_tail(console)}"
                )
            time.sleep(0.2)
        raise KafkaStartError(
            f"Kafka was not ready after {self.start_timeout:.0f}s.\n"
            f"--- server.log ---\n{_tail(self.log_file)}\n--- console ---\n{_tail(console)}"
        )

    def stop(self) -> None:
        """Stop the broker (SIGTERM, then SIGKILL) and remove its work dir."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
            self.process = None
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None
        self.bootstrap = ""
        self.sasl_bootstrap = ""

    def __enter__(self) -> LocalKafka:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# --- developer CLI: python -m tests.kafka.broker start|stop|status -------------------


def state_file(version: str = KAFKA_VERSION) -> Path:
    """Where ``start`` records the background broker's pid, bootstrap and work dir."""
    return cache_dir(version) / "broker.json"


def _read_state() -> dict[str, object] | None:
    try:
        state: dict[str, object] = json.loads(state_file().read_text())
    except (OSError, ValueError):
        return None
    return state


def _cli_start() -> int:
    state = _read_state()
    if state is not None and _is_broker(int(str(state["pid"]))):
        print(f"export KAFKA_BOOTSTRAP_SERVERS={state['bootstrap']}")
        return 0
    kafka = LocalKafka()
    kafka.start()
    assert kafka.process is not None
    assert kafka.workdir is not None
    state_file().write_text(
        json.dumps(
            {"pid": kafka.process.pid, "bootstrap": kafka.bootstrap, "workdir": str(kafka.workdir)}
        )
    )
    print(f"export KAFKA_BOOTSTRAP_SERVERS={kafka.bootstrap}")
    print(f"# Kafka {KAFKA_VERSION} pid {kafka.process.pid}; log {kafka.log_file}", file=sys.stderr)
    return 0


def _cli_stop() -> int:
    state = _read_state()
    if state is None:
        print("no background broker recorded", file=sys.stderr)
        return 0
    pid = int(str(state["pid"]))
    if _is_broker(pid):
        stop_process(pid)
        print(f"stopped Kafka pid {pid}", file=sys.stderr)
    shutil.rmtree(str(state["workdir"]), ignore_errors=True)
    state_file().unlink(missing_ok=True)
    return 0


def _cli_status() -> int:
    state = _read_state()
    if state is not None and _is_broker(int(str(state["pid"]))):
        print(f"running: pid {state['pid']}, KAFKA_BOOTSTRAP_SERVERS={state['bootstrap']}")
        return 0
    print("not running")
    return 1


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m tests.kafka.broker``."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.kafka.broker",
        description=f"Run a local Kafka {KAFKA_VERSION} broker in the background.",
    )
    parser.add_argument("command", choices=["start", "stop", "status"])
    args = parser.parse_args(argv)
    commands = {"start": _cli_start, "stop": _cli_stop, "status": _cli_status}
    return commands[args.command]()


if __name__ == "__main__":
    raise SystemExit(main())
