"""``driftline produce``: synthetic services sending live events to a Kafka broker."""

import argparse
import sys
import time
from collections import deque
from typing import Any

from pydantic import ValidationError

from monitor.cli.options import add_broker, add_command, add_traffic
from monitor.errors import ConfigError, InputError
from producers.producer import DeliveryProblem, DriftlineProducer
from producers.settings import ProducerSettings
from producers.synthetic import SCENARIOS, scenario_services, send_prediction

__all__ = ["register", "run"]

CHUNK = 100
"""Events a service generates per round."""

HELP = """\
Send the demo's synthetic services to Kafka as live traffic, through the producer SDK:
`stationary` (checkout-ranker), `covariate-shift` (fraud-scorer: inputs shift at 40% of
its events, a new category appears at 70%) and `label-drift` (churn-predictor: its
accuracy drops at 40%). Event times are the wall clock; each label follows its
prediction after --label-delay seconds. The connection (--broker, SASL, TLS) comes from
the DRIFTLINE_KAFKA__* variables, as for `driftline worker` and `alerts`; topics and
batching from DRIFTLINE_PRODUCER_* variables.
"""


def register(commands: Any) -> None:
    """Add the subcommand."""
    parser = add_command(commands, "produce", "send synthetic traffic with drift to Kafka", HELP)
    add_broker(parser)
    parser.add_argument(
        "--scenario",
        action="append",
        choices=SCENARIOS,
        help="services to run (repeat; default all three)",
    )
    add_traffic(parser)
    parser.add_argument(
        "--label-delay",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="seconds between a prediction and its label (default 10)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Produce until --events are sent, then flush."""
    scenarios = args.scenario or list(SCENARIOS)
    if args.events < len(scenarios):
        raise InputError(f"--events must be at least {len(scenarios)}")
    per_model = args.events // len(scenarios)
    rate_each = args.rate / len(scenarios) if args.rate > 0 else 1_000.0
    models = scenario_services(
        per_model,
        args.seed,
        scenarios,
        start=time.time(),
        rate=rate_each,
        label_delay=args.label_delay,
    )
    problems: list[DeliveryProblem] = []
    try:
        settings = ProducerSettings(**({"broker": args.broker} if args.broker else {}))
    except ValidationError as error:
        raise ConfigError(f"invalid producer settings:\n{error}") from error
    producer = DriftlineProducer(settings, on_error=problems.append)
    waiting: deque[tuple[float, dict[str, Any]]] = deque()  # (due, label), due in order
    instant = args.rate <= 0  # as fast as possible: labels go right after predictions
    started = last_report = time.monotonic()
    sent = 0
    try:
        while any(model.produced < per_model for model in models):
            for model in models:
                events, labels = model.generate(min(CHUNK, per_model - model.produced))
                for event in events:
                    send_prediction(producer, event)
                due = time.monotonic() + args.label_delay
                waiting.extend((due, label) for label in labels)
                sent += len(events)
            _release(producer, waiting, float("inf") if instant else time.monotonic())
            if not instant:
                time.sleep(max(sent / args.rate - (time.monotonic() - started), 0.0))
            if time.monotonic() - last_report >= 1.0:
                last_report = time.monotonic()
                _report(producer, sent, started)
        while waiting:  # the last labels come due
            time.sleep(max(min(waiting[-1][0] - time.monotonic(), 0.5), 0.0))
            _release(producer, waiting, time.monotonic())
    except KeyboardInterrupt:
        print("driftline: stopped; flushing what was sent", file=sys.stderr)
    delivered = producer.close(timeout=30)
    _report(producer, sent, started)
    for problem in problems[-3:]:
        print(
            f"driftline: {problem.kind} {problem.events} events: {problem.error}", file=sys.stderr
        )
    return 0 if delivered else 1


def _release(
    producer: DriftlineProducer, waiting: deque[tuple[float, dict[str, Any]]], now: float
) -> None:
    """Send the labels that have come due."""
    while waiting and waiting[0][0] <= now:
        _, label = waiting.popleft()
        producer.send_label(label["model"], label["event_id"], label["label"], ts=label["ts"])


def _report(producer: DriftlineProducer, sent: int, started: float) -> None:
    stats = producer.stats
    elapsed = max(time.monotonic() - started, 1e-9)
    print(
        f"driftline: {sent:,} predictions in {elapsed:.0f} s ({sent / elapsed:,.0f}/s); "
        f"events queued {stats.queued:,}, acknowledged {stats.sent:,}, dropped "
        f"{stats.dropped:,}, failed {stats.failed:,}",
        file=sys.stderr,
    )
