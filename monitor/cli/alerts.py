"""``driftline alerts``: read or follow the alert topics on Kafka."""

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from rich.console import Console

from monitor.cli.options import add_broker, add_command, with_broker
from monitor.cli.render import alert_line
from monitor.errors import BrokerUnavailableError
from monitor.settings import load_settings
from producers.security import tls_problem
from schemas import topics
from schemas.alerts import Alert, AlertKind, Severity

__all__ = ["register", "run"]

HELP = """\
Print driftline's alerts from Kafka (driftline.drift-alerts and
driftline.degradation-alerts), in time order across both topics (by detected_at, then
alert id), or as JSON lines with --json.

Each alert is one line: date and time detected (UTC), the first 8 characters of the
alert id, status, severity, kind, model/version, subject, and statistic=score against
its threshold. On a terminal a line too wide is abbreviated, then cut, to fit; through
a pipe every line is whole.

Without --follow it prints what the topics hold and returns once it has read them to
their end (with --from-start, everything Kafka keeps; otherwise nothing but what a
--group has not read yet). With --follow it then prints each new alert as it comes,
until Ctrl-C. With --group, it resumes where that group stopped.
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
    # accepted and ignored since the command stops at the end of the topics
    parser.add_argument("--idle", type=float, help=argparse.SUPPRESS)
    parser.add_argument(
        "--connect-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="give up when no broker answers, or reading stalls, for this long",
    )
    parser.add_argument(
        "--topic",
        action="append",
        metavar="TOPIC",
        help="read this topic instead of the two alert topics (repeat)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the alerts the topics hold, then (with --follow) new ones until Ctrl-C."""
    from kafka.errors import KafkaError

    from monitor.kafka.subscriber import AlertFilter, AlertSubscriber, in_time_order

    alert_filter = AlertFilter(
        models=frozenset(args.model), kinds=frozenset(args.kind), min_severity=args.severity
    )
    names = args.topic or [topics.DRIFT_ALERTS, topics.DEGRADATION_ALERTS]
    kafka = with_broker(load_settings(None).kafka, args)  # SASL, TLS: DRIFTLINE_KAFKA__*
    problem = tls_problem(kafka, args.connect_timeout)
    if problem is not None:
        raise BrokerUnavailableError(f"cannot connect to Kafka: {problem}")
    unreachable = f"cannot reach Kafka at {kafka.broker}"
    try:
        subscriber = AlertSubscriber(
            kafka,
            group_id=args.group,
            from_start=args.from_start,
            alert_filter=alert_filter,
            topics=names,
            connect_timeout=args.connect_timeout,
        )
    except KafkaError as error:
        raise BrokerUnavailableError(
            f"{unreachable} ({error}); start a broker or pass --broker"
        ) from error
    show = _printer(as_json=args.json)
    with subscriber:
        try:
            show(subscriber.read_to_end())
            if args.follow:
                print(
                    f"driftline: following {', '.join(names)} at {kafka.broker}; Ctrl-C stops",
                    file=sys.stderr,
                    flush=True,
                )
            while args.follow:
                show(in_time_order(subscriber.poll(timeout=0.5)))
        except KeyboardInterrupt:
            pass
        except KafkaError as error:
            raise BrokerUnavailableError(f"{unreachable} ({error})") from error
    if subscriber.invalid:
        print(
            f"driftline: skipped {subscriber.invalid} messages that are not alerts", file=sys.stderr
        )
    return 0


def _printer(*, as_json: bool) -> Callable[[Sequence[Alert]], None]:
    """How to print alerts: JSON lines, lines cut to a terminal's width, or whole lines."""
    if as_json:

        def print_json(alerts: Sequence[Alert]) -> None:
            for alert in alerts:
                print(alert.model_dump_json(), flush=True)

        return print_json
    if not sys.stdout.isatty():  # a pipe or a file: whole lines, no colour

        def print_plain(alerts: Sequence[Alert]) -> None:
            for alert in alerts:
                print(alert_line(alert).plain, flush=True)

        return print_plain
    console = Console(highlight=False)

    def print_fitted(alerts: Sequence[Alert]) -> None:
        for alert in alerts:  # the width is read each time: the terminal may be resized
            console.print(alert_line(alert, console.width), no_wrap=True, crop=True)

    return print_fitted
