"""``driftline alerts``: read or follow the alert topics on Kafka."""

import argparse
import sys
import time
from typing import Any

from rich.console import Console

from monitor.cli.options import add_broker, add_command, broker
from monitor.cli.render import alert_line
from monitor.errors import BrokerUnavailableError
from monitor.settings import load_settings
from producers.security import tls_problem
from schemas import topics
from schemas.alerts import AlertKind, Severity

__all__ = ["register", "run"]

HELP = """\
Print driftline's alerts from Kafka (driftline.drift-alerts and
driftline.degradation-alerts), one per line, or as JSON lines with --json. Without
--follow it prints what arrives until the topics stay quiet for --idle seconds; with
--follow it runs until Ctrl-C. With --group, it resumes where that group stopped.
"""


def register(commands: Any) -> None:
    """Add the subcommand."""
    parser = add_command(commands, "alerts", "read or follow alerts on Kafka", HELP)
    add_broker(parser)
    parser.add_argument("--follow", "-f", action="store_true", help="keep waiting for alerts")
    parser.add_argument(
        "--from-start",
        action="store_true",
        help="begin with the oldest alert kept by Kafka (default: new ones)",
    )
    parser.add_argument("--group", help="consumer group: resume from its committed offset")
    parser.add_argument("--model", action="append", default=[], help="only this model (repeat)")
    parser.add_argument(
        "--kind",
        action="append",
        default=[],
        choices=[k.value for k in AlertKind],
        help="only this kind (repeat)",
    )
    parser.add_argument(
        "--severity",
        choices=[s.value for s in Severity],
        help="only this severity and above (resolutions always shown)",
    )
    parser.add_argument("--json", action="store_true", help="print alerts as JSON lines")
    parser.add_argument(
        "--idle",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="without --follow: stop after this long without alerts",
    )
    parser.add_argument(
        "--connect-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="give up when no broker answers within this long",
    )
    parser.add_argument(
        "--topic",
        action="append",
        metavar="TOPIC",
        help="read this topic instead of the two alert topics (repeat)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print alerts until idle (or Ctrl-C with --follow)."""
    from kafka.errors import KafkaError

    from monitor.kafka.subscriber import AlertFilter, AlertSubscriber, broker_address

    alert_filter = AlertFilter(
        models=frozenset(args.model), kinds=frozenset(args.kind), min_severity=args.severity
    )
    names = args.topic or [topics.DRIFT_ALERTS, topics.DEGRADATION_ALERTS]
    address = broker(args)
    # SASL/SSL from the kafka.* settings (DRIFTLINE_KAFKA__SECURITY_PROTOCOL, ...)
    kafka = load_settings(None).kafka
    security = {k: v for k, v in kafka.client_config().items() if k != "bootstrap_servers"}
    problem = tls_problem(broker_address(address).split(","), kafka, args.connect_timeout)
    if problem is not None:
        raise BrokerUnavailableError(f"cannot connect to Kafka: {problem}")
    try:
        subscriber = AlertSubscriber(
            address,
            group_id=args.group,
            from_start=args.from_start,
            alert_filter=alert_filter,
            topics=names,
            connect_timeout=args.connect_timeout,
            extra_config=security,
        )
    except KafkaError as error:
        raise BrokerUnavailableError(
            f"cannot reach Kafka at {address} ({error}); start a broker or pass --broker"
        ) from error
    console = Console(highlight=False)
    quiet_since = time.monotonic()
    with subscriber:
        try:
            while args.follow or time.monotonic() - quiet_since < args.idle:
                alerts = subscriber.poll(timeout=0.5)
                if alerts:
                    quiet_since = time.monotonic()
                for alert in alerts:
                    if args.json:
                        print(alert.model_dump_json(), flush=True)
                    else:
                        console.print(alert_line(alert))
        except KeyboardInterrupt:
            pass
    if subscriber.invalid:
        print(
            f"driftline: skipped {subscriber.invalid} messages that are not alerts", file=sys.stderr
        )
    return 0
