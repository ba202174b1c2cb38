"""``driftline worker``: a Faust worker of the Kafka engine."""

import argparse
import sys
from pathlib import Path
from typing import Any

from monitor.cli.options import add_broker, add_command, with_broker
from monitor.errors import BrokerUnavailableError
from monitor.reference.io import read_reference
from monitor.reference.profile import ReferenceSet
from monitor.settings import MonitorSettings, load_settings
from producers.security import tls_problem

__all__ = ["register", "run"]

HELP = """\
Run a worker of the Kafka engine: it consumes driftline.predictions, .labels and
.metrics, runs them through the same core as `driftline replay`, and publishes alerts,
window summaries and dead letters. Start several (same --broker and app id) to share the
partitions; a worker that dies is replaced by another, which loads the models' state
from the changelog-backed table. Settings: the TOML file and DRIFTLINE_* variables
(kafka.broker, kafka.app_id, kafka.partitions, kafka.replication).
"""


def register(commands: Any) -> None:
    """Add the subcommand."""
    parser = add_command(commands, "worker", "run a Kafka engine worker (Faust)", HELP)
    add_broker(parser)
    parser.add_argument(
        "--reference",
        type=Path,
        metavar="REF",
        help="built reference (.json) or raw (.jsonl, .csv); without it, "
        "models are tested against their first events",
    )
    parser.add_argument("--config", type=Path, metavar="driftline.toml", help="settings file")
    parser.add_argument("--loglevel", default="info", help="worker log level (default info)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run the worker until it is stopped (SIGTERM, Ctrl-C)."""
    import faust
    from kafka.errors import KafkaError

    from monitor.kafka.admin import ensure_topics
    from monitor.kafka.worker import build_app

    settings = load_settings(args.config)
    if args.broker:
        kafka = with_broker(settings.kafka, args)
        settings = MonitorSettings.model_validate(settings.model_dump() | {"kafka": kafka})
    references = (
        read_reference(args.reference, settings.reference, settings.features)
        if args.reference
        else ReferenceSet([])
    )
    problem = tls_problem(settings.kafka)
    if problem is not None:
        raise BrokerUnavailableError(f"cannot connect to Kafka: {problem}")
    try:
        created = ensure_topics(settings.kafka)
    except KafkaError as error:
        raise BrokerUnavailableError(
            f"cannot reach Kafka at {settings.kafka.broker} ({error}); start a broker or "
            "pass --broker"
        ) from error
    if created:
        print(
            f"driftline: created topics {', '.join(created)} with "
            f"{settings.kafka.partitions} partitions",
            file=sys.stderr,
        )
    app = build_app(settings, references)
    faust.Worker(app, loglevel=args.loglevel).execute_from_commandline()
    return 0
