"""``driftline dev kafka start|stop|status``: a local Kafka broker for development."""

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

from monitor.cli.options import add_command
from monitor.dev import background
from monitor.dev.background import Broker
from monitor.dev.kafka import KafkaStartError, KafkaUnavailableError
from monitor.errors import DriftlineError

__all__ = ["describe", "register", "uptime"]

HELP = """\
Tools for developing with driftline on one machine. `driftline dev kafka` runs a local
Apache Kafka broker in the background, for `driftline worker`, `produce` and `alerts`,
the Kafka tests and the benchmarks.
"""

KAFKA_HELP = """\
A local single-node Apache Kafka broker (KRaft mode, no ZooKeeper, no Docker), run in
the background from the Apache Kafka jars on Maven Central. It needs Java 17 or newer
and Maven (mvn); the first start downloads about 43 MB once into
${XDG_CACHE_HOME:-~/.cache}/driftline. The broker listens on 127.0.0.1 only, keeps its
data in a temporary folder until it is stopped, and is recorded in
${XDG_STATE_HOME:-~/.local/state}/driftline/kafka.json, so that `status` and `stop`
find it from any shell.

  eval "$(driftline dev kafka start)"   # then: driftline worker, driftline produce
  driftline dev kafka status
  driftline dev kafka stop
"""

START_HELP = """\
Start the broker in the background and wait until it is ready (10 to 20 s; the first
time, the download before). Prints on stdout the shell lines that point clients at it:

  export KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:PORT
  export DRIFTLINE_KAFKA__BROKER=kafka://127.0.0.1:PORT

so `eval "$(driftline dev kafka start)"` sets them; on stderr, where its log is and the
progress of the first download. If a broker started this way is running already, its
lines are printed again and nothing else happens (stop it first to change options).
Fails (exit code 2) without Java or Maven, or when --port is taken.
"""

STATUS_HELP = """\
Say whether the broker started by `driftline dev kafka start` is running, at which
address, since when, and where its log is. Exit code 0 when it runs, 1 when not.
"""

STOP_HELP = """\
Stop the broker started by `driftline dev kafka start` (a controlled shutdown, killed
after 20 s) and delete its data. Nothing to stop is not an error.
"""

NOT_STARTED = "no broker started by `driftline dev kafka start`"


def register(commands: Any) -> None:
    """Add ``dev`` and its subcommands."""
    dev = add_command(commands, "dev", "developer tools: a local Kafka broker", HELP)
    tools = dev.add_subparsers(title="tools", metavar="TOOL", required=True)
    kafka = add_command(tools, "kafka", "a local Kafka broker in the background", KAFKA_HELP)
    actions = kafka.add_subparsers(title="actions", metavar="ACTION", required=True)
    start = add_command(actions, "start", "start the broker; print what to export", START_HELP)
    start.add_argument(
        "--port",
        type=int,
        metavar="PORT",
        help="the broker's port on 127.0.0.1 (default: a free one; e.g. 9092, the "
        "kafka.broker setting's default)",
    )
    start.add_argument(
        "--sasl-user",
        type=_sasl_user,
        action="append",
        default=[],
        metavar="NAME:PASSWORD",
        help="also open a SASL_PLAINTEXT listener (PLAIN and SCRAM-SHA-512) for this user "
        "(repeatable; letters, digits and . _ - only)",
    )
    start.add_argument(
        "--tls",
        action="store_true",
        help="also open an SSL listener (and SASL_SSL with --sasl-user), with a new CA "
        "and broker certificate for 127.0.0.1 and localhost",
    )
    start.set_defaults(run=run_start)
    status = add_command(actions, "status", "is the broker running, where, since when", STATUS_HELP)
    status.set_defaults(run=run_status)
    stop = add_command(actions, "stop", "stop the broker and delete its data", STOP_HELP)
    stop.set_defaults(run=run_stop)


def run_start(args: argparse.Namespace) -> int:
    """Start the broker (or find it running); the exports on stdout, the rest on stderr."""

    def progress(line: str) -> None:
        print(f"# {line}", file=sys.stderr, flush=True)

    try:
        broker, new = background.start(
            port=args.port, sasl_users=dict(args.sasl_user) or None, tls=args.tls, progress=progress
        )
    except (KafkaUnavailableError, KafkaStartError, ValueError) as error:
        raise DriftlineError(str(error)) from None
    print(f"export KAFKA_BOOTSTRAP_SERVERS={broker.bootstrap}")
    print(f"export DRIFTLINE_KAFKA__BROKER=kafka://{broker.bootstrap}")
    if not new:
        progress("already running (stop it first to change its options)")
    for line in describe(broker):
        progress(line)
    progress("stop it with: driftline dev kafka stop")
    return 0


def run_status(args: argparse.Namespace) -> int:
    """Print whether the recorded broker runs; exit code 0 if it does, else 1."""
    broker = background.recorded()
    if broker is None:
        print(f"not running: {NOT_STARTED}")
        return 1
    if not background.is_running(broker):
        print(
            f"not running: the broker started at {broker.started:%Y-%m-%d %H:%M:%S} UTC "
            f"(pid {broker.pid}) has exited; its log: {broker.log_file}; "
            "`driftline dev kafka stop` clears it"
        )
        return 1
    print("\n".join(describe(broker)))
    return 0


def run_stop(args: argparse.Namespace) -> int:
    """Stop the recorded broker, if it runs."""
    broker = background.stop()
    if broker is None:
        print(f"not running: {NOT_STARTED}")
        return 0
    print(
        f"stopped Kafka {broker.version} at {broker.bootstrap} (pid {broker.pid}) "
        f"after {uptime(broker.started)}"
    )
    return 0


def describe(broker: Broker) -> list[str]:
    """Lines saying where the running broker listens, since when, and where its log is."""
    lines = [
        f"running: Kafka {broker.version} at {broker.bootstrap} (pid {broker.pid}), since "
        f"{broker.started:%Y-%m-%d %H:%M:%S} UTC ({uptime(broker.started)})"
    ]
    if broker.sasl_bootstrap:
        lines.append(
            f"SASL_PLAINTEXT at {broker.sasl_bootstrap} (users {', '.join(broker.sasl_users)}; "
            f"{' or '.join(broker.sasl_mechanisms)})"
        )
    listeners = {"SSL": broker.ssl_bootstrap, "SASL_SSL": broker.sasl_ssl_bootstrap}
    secured = [f"{name} at {address}" for name, address in listeners.items() if address]
    if secured:
        lines.append(f"{', '.join(secured)} (CA certificate {broker.ca_file})")
    lines.append(f"log: {broker.log_file}")
    return lines


def uptime(since: datetime, now: datetime | None = None) -> str:
    """How long ago ``since`` was, in words.

    >>> start = datetime(2026, 1, 1, tzinfo=UTC)
    >>> uptime(start, datetime(2026, 1, 1, 0, 0, 42, tzinfo=UTC))
    '42 s'
    >>> uptime(start, datetime(2026, 1, 1, 2, 5, tzinfo=UTC))
    '2 h 5 min'
    >>> uptime(start, datetime(2026, 1, 3, 1, tzinfo=UTC))
    '2 d 1 h'
    """
    seconds = max(int(((now or datetime.now(UTC)) - since).total_seconds()), 0)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min"
    return f"{seconds} s"


def _sasl_user(text: str) -> tuple[str, str]:
    """``NAME:PASSWORD`` of ``--sasl-user``."""
    name, colon, password = text.partition(":")
    if not colon or not name or not password:
        raise argparse.ArgumentTypeError(f"expected NAME:PASSWORD, got {text!r}")
    return name, password
