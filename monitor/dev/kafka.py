"""A local single-node KRaft Apache Kafka broker, run from the jars on Maven Central.

A developer tool: ``driftline dev kafka start`` runs one in the background, the Kafka
tests (``tests/kafka/conftest.py``) and the Kafka benchmarks (``bench/kafka``) start
their own. Only the command line, the tests and the benchmarks import this package; the
monitor's core never does.

No Docker is needed: only Java 17 and Maven (``mvn``). The first use downloads
``org.apache.kafka:kafka_2.13`` and a log4j2 backend with Maven into
``${XDG_CACHE_HOME:-~/.cache}/driftline/kafka-<VERSION>/libs`` (about 43 MB); later
uses reuse it.

Each :class:`LocalKafka` gets free loopback ports (broker and controller, and one per
optional listener; ``port`` fixes the broker's), a fresh temporary log dir and a random
cluster id, runs in combined broker+controller mode and is ready once its log says
``Kafka Server started``.

With ``sasl_users={"alice": "secret"}`` it also opens a ``SASL_PLAINTEXT`` listener
(``sasl_bootstrap``) that accepts those users with the mechanisms in
:data:`SASL_MECHANISMS`: PLAIN users are listed in the listener's JAAS config, SCRAM
credentials are written to the metadata log when the storage is formatted. The
PLAINTEXT listener stays for the controller and inter-broker traffic (and for clients
that need no login); no authorizer runs, so any authenticated user may do anything.

With ``tls=True`` it makes a CA and a broker certificate with ``openssl``
(:func:`make_certificates`: EC P-256 keys, the certificate valid for ``127.0.0.1`` and
``localhost``, PEM files Kafka reads as ``ssl.keystore.type=PEM``) and opens an ``SSL``
listener (``ssl_bootstrap``); with ``sasl_users`` too, a ``SASL_SSL`` listener
(``sasl_ssl_bootstrap``) with the same users and mechanisms. Clients verify the broker
with ``ca_file``; the broker asks for no client certificate.

**Restart.** ``stop(keep_data=True)`` stops the broker (SIGTERM: a controlled
shutdown) and keeps its work dir, ports and addresses; the next :meth:`LocalKafka.start`
runs it again on the same log dir, config and ports (no format), so topics, committed
offsets and idempotent producers' state survive, as on a restarted production broker.
:meth:`LocalKafka.restart` does both. Clients connected meanwhile see the connection
refused until it is back.

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

    with LocalKafka(tls=True) as kafka:
        producer = KafkaProducer(
            bootstrap_servers=kafka.ssl_bootstrap,
            security_protocol="SSL",
            ssl_cafile=str(kafka.ca_file),
        )
        kafka.stop(keep_data=True)  # the broker is down; producer waits and retries
        kafka.start()  # back on the same data and ports

or from a shell (:mod:`monitor.dev.background` keeps its state)::

    eval "$(driftline dev kafka start)"   # exports KAFKA_BOOTSTRAP_SERVERS
    driftline dev kafka status
    driftline dev kafka stop
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
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


class PortTakenError(KafkaStartError):
    """The broker port asked for is already in use on 127.0.0.1."""


Progress = Callable[[str], None]
"""Receives a line of progress of the first download (at most one a second)."""


def cache_dir(version: str = KAFKA_VERSION) -> Path:
    """Directory holding the jars of ``version`` (``libs``) and their Maven POM."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "driftline" / f"kafka-{version}"


def jars_cached(version: str = KAFKA_VERSION) -> bool:
    """True once :func:`ensure_jars` has downloaded ``version`` completely."""
    return (cache_dir(version) / "libs" / ".complete").exists()


def java_executable() -> str:
    """The ``java`` on PATH; :class:`KafkaUnavailableError` without one."""
    java = shutil.which("java")
    if java is None:
        raise KafkaUnavailableError(
            f"java is not on PATH; Kafka {KAFKA_VERSION} needs Java 17 or newer "
            "(Debian: apt-get install openjdk-17-jre-headless)"
        )
    return java


_MAVEN_DOWNLOADED = re.compile(r"Downloaded from \S+: \S+ \(([\d.,]+) (B|kB|MB|GB)")
_UNITS = {"B": 1, "kB": 1000, "MB": 1000**2, "GB": 1000**3}


def downloaded_bytes(line: str) -> int | None:
    """The size of the file a Maven ``Downloaded from`` line reports, else None.

    >>> downloaded_bytes("[INFO] Downloaded from central: https://r/k.jar (6.2 MB at 4 MB/s)")
    6200000
    >>> downloaded_bytes("[INFO] Downloading from central: https://r/k.jar") is None
    True
    """
    found = _MAVEN_DOWNLOADED.search(line)
    if found is None:
        return None
    return round(float(found[1].replace(",", "")) * _UNITS[found[2]])


def ensure_jars(version: str = KAFKA_VERSION, progress: Progress | None = None) -> Path:
    """Download the broker jars once with Maven; return the ``libs`` directory.

    A ``.complete`` marker records a finished download, and a file lock keeps
    concurrent callers from downloading twice. ``progress`` hears what is going on
    when a download is needed: where to, then the files and megabytes Maven has
    fetched so far, at most once a second.
    """
    root = cache_dir(version)
    libs = root / "libs"
    marker = libs / ".complete"
    if marker.exists():
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise KafkaUnavailableError(
            f"Maven (mvn) is not on PATH; it fetches Kafka {version} from Maven Central "
            "once (Debian: apt-get install maven)"
        )
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists():
            return libs
        report = progress or (lambda line: None)
        report(f"fetching Kafka {version} with Maven into {libs} (about 43 MB, once)")
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
            "-B",
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={libs}",
            "-DincludeScope=runtime",
        ]
        files = size = 0
        reported = time.monotonic()
        output: deque[str] = deque(maxlen=60)
        with subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        ) as maven:
            assert maven.stdout is not None
            for line in maven.stdout:
                output.append(line)
                fetched = downloaded_bytes(line)
                if fetched is None:
                    continue
                files, size = files + 1, size + fetched
                if time.monotonic() - reported >= 1.0:
                    reported = time.monotonic()
                    report(f"downloaded {files} files, {size / 1e6:.1f} MB")
        if maven.returncode != 0:
            tail = "".join(output)[-3000:]
            raise KafkaUnavailableError(f"mvn could not fetch Kafka {version}:\n{tail}")
        marker.touch()
        jars = sum(path.stat().st_size for path in libs.glob("*.jar"))
        report(f"Kafka {version} is in {libs} ({jars / 1e6:.0f} MB)")
    return libs


def free_ports(count: int, *, taken_by_us: int | None = None) -> list[int]:
    """``count`` distinct unused TCP ports on 127.0.0.1 (all bound at once, then freed).

    With ``taken_by_us``, that port comes first: it is bound too (so it is never picked
    twice), and :class:`PortTakenError` says so when something else listens on it.
    """
    with contextlib.ExitStack() as stack:
        sockets = [
            stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            for _ in range(count)
        ]
        if taken_by_us is not None:
            # as the JVM's server sockets do: a port in TIME_WAIT is free to listen on
            sockets[0].setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sockets[0].bind(("127.0.0.1", taken_by_us))
            except OSError as error:
                raise PortTakenError(
                    f"port {taken_by_us} on 127.0.0.1 is taken ({error.strerror}): "
                    "another broker, or another program, listens there"
                ) from None
        for sock in sockets[0 if taken_by_us is None else 1 :]:
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


@dataclass(frozen=True)
class Certificates:
    """PEM files made by :func:`make_certificates`."""

    ca_file: Path
    """The CA's certificate: what clients verify the broker with."""
    keystore: Path
    """The broker's private key (PKCS#8), then its certificate and the CA's."""


def _openssl(*args: str, cwd: Path) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise KafkaUnavailableError("openssl is not on PATH; it makes the TLS certificates")
    result = subprocess.run([openssl, *args], cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise KafkaStartError(f"openssl {args[0]} failed:\n{result.stdout}{result.stderr}")


def make_certificates(directory: Path, days: int = 2) -> Certificates:
    """A new CA and a broker certificate it signed for ``127.0.0.1`` and ``localhost``.

    Keys are EC P-256 (quick to make), unencrypted PKCS#8, which Kafka's PEM key store
    reads without ``ssl.key.password``. Another call makes another CA: one that did not
    sign this broker's certificate, for tests of a wrong CA.
    """
    directory.mkdir(parents=True, exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl(
        "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", str(days),
        "-subj", "/CN=driftline test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=directory,
    )  # fmt: skip
    _openssl(
        "req", "-new", *ec, "-keyout", "broker.key", "-out", "broker.csr",
        "-subj", "/CN=localhost",
        cwd=directory,
    )  # fmt: skip
    (directory / "broker.ext").write_text(
        "basicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid\n"
    )
    _openssl(
        "x509", "-req", "-in", "broker.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-set_serial", str(uuid.uuid4().int >> 64), "-days", str(days),
        "-extfile", "broker.ext", "-out", "broker.pem",
        cwd=directory,
    )  # fmt: skip
    keystore = directory / "broker-keystore.pem"
    keystore.write_text(
        "".join((directory / name).read_text() for name in ("broker.key", "broker.pem", "ca.pem"))
    )
    return Certificates(ca_file=directory / "ca.pem", keystore=keystore)


@dataclass(frozen=True)
class Ports:
    """The loopback ports of one broker; ``None`` for a listener it does not open."""

    broker: int
    controller: int
    sasl: int | None = None
    ssl: int | None = None
    sasl_ssl: int | None = None


def server_properties(
    *,
    ports: Ports,
    data_dir: Path,
    sasl_users: Mapping[str, str] | None = None,
    keystore: Path | None = None,
) -> str:
    """server.properties for a combined broker+controller with static quorum voters.

    Listeners beside PLAINTEXT, each on its port in ``ports``: ``SASL_PLAINTEXT`` and
    ``SASL_SSL`` accept ``sasl_users`` with PLAIN (users in the listener's JAAS config)
    and SCRAM-SHA-512 (credentials added at format time); ``SSL`` and ``SASL_SSL``
    present the key and certificates in the PEM file ``keystore``.

    >>> text = server_properties(ports=Ports(1, 2, sasl=3), data_dir=Path("d"),
    ...                          sasl_users={"alice": "secret"})
    >>> print([line for line in text.splitlines() if "plain.sasl.jaas" in line][0])
    listener.name.sasl_plaintext.plain...PlainLoginModule required user_alice="secret";
    >>> text = server_properties(ports=Ports(1, 2, ssl=4), data_dir=Path("d"),
    ...                          keystore=Path("k.pem"))
    >>> print(text.splitlines()[4])
    advertised.listeners=PLAINTEXT://127.0.0.1:1,SSL://127.0.0.1:4
    >>> [line for line in text.splitlines() if line.startswith("ssl.")]
    ['ssl.keystore.type=PEM', 'ssl.keystore.location=k.pem']
    """
    extra = {"SASL_PLAINTEXT": ports.sasl, "SSL": ports.ssl, "SASL_SSL": ports.sasl_ssl}
    opened = {name: port for name, port in extra.items() if port is not None}
    sasl_listeners = [name for name in opened if name.startswith("SASL")]
    if sasl_listeners and sasl_users is None:
        raise ValueError(f"{', '.join(sasl_listeners)} listeners need sasl_users")
    if {"SSL", "SASL_SSL"} & set(opened) and keystore is None:
        raise ValueError("SSL listeners need a keystore")
    listeners = ",".join(
        [f"PLAINTEXT://127.0.0.1:{ports.broker}"]
        + [f"{name}://127.0.0.1:{port}" for name, port in opened.items()]
    )
    protocols = ",".join(
        ["PLAINTEXT:PLAINTEXT", "CONTROLLER:PLAINTEXT"] + [f"{name}:{name}" for name in opened]
    )
    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{ports.controller}",
        "listeners": f"{listeners},CONTROLLER://127.0.0.1:{ports.controller}",
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
    if sasl_listeners:
        users = dict(sasl_users or {})
        check_sasl_users(users)
        plain_users = "".join(f' user_{user}="{password}"' for user, password in users.items())
        settings["sasl.enabled.mechanisms"] = ",".join(SASL_MECHANISMS)
        for name in sasl_listeners:
            prefix = f"listener.name.{name.lower()}"
            settings |= {
                f"{prefix}.plain.sasl.jaas.config": (
                    "org.apache.kafka.common.security.plain.PlainLoginModule required"
                    f"{plain_users};"
                ),
                f"{prefix}.scram-sha-512.sasl.jaas.config": (
                    "org.apache.kafka.common.security.scram.ScramLoginModule required;"
                ),
            }
    if keystore is not None:
        settings |= {"ssl.keystore.type": "PEM", "ssl.keystore.location": str(keystore)}
    return "".join(f"{key}={value}\n" for key, value in settings.items())


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class LocalKafka:
    """A single-node KRaft Kafka broker in a subprocess; a context manager.

    ``bootstrap`` is ``"127.0.0.1:PORT"`` (PLAINTEXT) once started. With ``sasl_users``
    (user name to password), ``sasl_bootstrap`` is the address of a ``SASL_PLAINTEXT``
    listener that accepts them with PLAIN or SCRAM-SHA-512. With ``tls=True``,
    ``ssl_bootstrap`` is an ``SSL`` listener and ``ca_file`` the CA certificate to verify
    it with; with both, ``sasl_ssl_bootstrap`` is a ``SASL_SSL`` listener. Addresses of
    listeners not opened stay ``""``. ``port`` fixes the PLAINTEXT listener's port (the
    OS picks the others). The work dir (config, certificates, data, ``server.log``) is
    temporary and removed on :meth:`stop`, unless ``keep_data=True``: then :meth:`start`
    runs the same broker again (see :meth:`restart`). ``progress`` hears about the first
    download of the jars (see :func:`ensure_jars`).

    Nothing runs until :meth:`start`:

    >>> kafka = LocalKafka(port=9092, sasl_users={"alice": "secret"})
    >>> kafka.bootstrap, kafka.process
    ('', None)
    """

    def __init__(
        self,
        version: str = KAFKA_VERSION,
        *,
        start_timeout: float = 90.0,
        heap: str = "512m",
        sasl_users: Mapping[str, str] | None = None,
        tls: bool = False,
        port: int | None = None,
        progress: Progress | None = None,
    ) -> None:
        if sasl_users is not None:
            check_sasl_users(sasl_users)
        self.version = version
        self.port = port
        self.progress = progress
        self.start_timeout = start_timeout
        self.heap = heap
        self.sasl_users = dict(sasl_users) if sasl_users is not None else None
        self.tls = tls
        self.bootstrap = ""
        self.sasl_bootstrap = ""
        self.ssl_bootstrap = ""
        self.sasl_ssl_bootstrap = ""
        self.ca_file: Path | None = None
        self.workdir: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self._java_command: list[str] = []

    @property
    def log_file(self) -> Path:
        """The broker's log4j output (appended to across restarts)."""
        if self.workdir is None:
            raise RuntimeError("broker not started")
        return self.workdir / "server.log"

    def _java(self, libs: Path, log_config: Path) -> list[str]:
        return [
            java_executable(),
            f"-Xmx{self.heap}",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={log_config}",
            "-cp",
            f"{libs}/*",
        ]

    def start(self) -> str:
        """Start the broker and wait until it is ready; return ``bootstrap``.

        The first start downloads the jars if needed, makes the work dir (and the
        certificates) and formats the storage. After ``stop(keep_data=True)`` it runs
        the same broker again: same config, ports, certificates and log dir.
        """
        if self.process is not None:
            raise RuntimeError("the broker is running")
        if self.workdir is not None:  # stopped with keep_data
            try:
                self._launch()
            except BaseException:
                self.stop()
                raise
            return self.bootstrap
        if self.port is not None:
            free_ports(1, taken_by_us=self.port)
        java_executable()  # what is missing is said before any download
        libs = ensure_jars(self.version, self.progress)
        self.workdir = Path(tempfile.mkdtemp(prefix="driftline-kafka-"))
        try:
            self._prepare(libs, self.workdir)
            self._launch()
        except BaseException:
            self.stop()
            raise
        return self.bootstrap

    def _prepare(self, libs: Path, workdir: Path) -> None:
        """Ports, certificates, server.properties and formatted storage in ``workdir``."""
        sasl = self.sasl_users is not None
        wanted = 2 + sasl + self.tls + (sasl and self.tls)
        numbers = iter(free_ports(wanted, taken_by_us=self.port))
        ports = Ports(
            broker=next(numbers),
            controller=next(numbers),
            sasl=next(numbers) if sasl else None,
            ssl=next(numbers) if self.tls else None,
            sasl_ssl=next(numbers) if sasl and self.tls else None,
        )
        certificates = make_certificates(workdir / "tls") if self.tls else None
        config = workdir / "server.properties"
        config.write_text(
            server_properties(
                ports=ports,
                data_dir=workdir / "data",
                sasl_users=self.sasl_users,
                keystore=certificates.keystore if certificates else None,
            )
        )
        log_config = workdir / "log4j2.properties"
        log_config.write_text(_LOG4J2_PROPERTIES.format(log_file=workdir / "server.log"))
        self._java_command = self._java(libs, log_config)

        format_command = [
            *self._java_command,
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
        if "UnsupportedClassVersionError" in formatted.stdout + formatted.stderr:
            raise KafkaUnavailableError(
                f"Kafka {self.version} needs Java 17 or newer; {self._java_command[0]} is older"
            )
        if formatted.returncode != 0:
            raise KafkaStartError(
                f"kafka.tools.StorageTool format failed ({formatted.returncode}):\n"
                f"{formatted.stdout}{formatted.stderr}"
            )

        def address(port: int | None) -> str:
            return "" if port is None else f"127.0.0.1:{port}"

        self.bootstrap = address(ports.broker)
        self.sasl_bootstrap = address(ports.sasl)
        self.ssl_bootstrap = address(ports.ssl)
        self.sasl_ssl_bootstrap = address(ports.sasl_ssl)
        self.ca_file = certificates.ca_file if certificates else None

    def _launch(self) -> None:
        """Run the broker prepared in the work dir and wait for its ready line."""
        assert self.workdir is not None
        console = self.workdir / "console.log"
        # server.log is appended to: only a ready line written after now counts
        seen = self.log_file.stat().st_size if self.log_file.exists() else 0
        with console.open("ab") as out:
            self.process = subprocess.Popen(
                [*self._java_command, "kafka.Kafka", str(self.workdir / "server.properties")],
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # survives the CLI; no stray Ctrl-C from the terminal
            )
        self._wait_ready(console, seen)

    def _wait_ready(self, console: Path, seen: int) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.log_file.exists():
                with self.log_file.open("rb") as log:
                    log.seek(seen)
                    if READY_LINE.encode() in log.read():
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

    def stop(self, *, keep_data: bool = False) -> None:
        """Stop the broker (SIGTERM, then SIGKILL after 20 s).

        Without ``keep_data`` the work dir is removed and the addresses cleared; with
        it, they stay for the next :meth:`start`.
        """
        if self.process is not None:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
            self.process = None
        if keep_data:
            return
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None
        self.bootstrap = ""
        self.sasl_bootstrap = ""
        self.ssl_bootstrap = ""
        self.sasl_ssl_bootstrap = ""
        self.ca_file = None

    def restart(self, downtime: float = 0.0) -> None:
        """Stop the broker, keeping its data, wait ``downtime`` seconds, start it again."""
        self.stop(keep_data=True)
        time.sleep(downtime)
        self.start()

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
