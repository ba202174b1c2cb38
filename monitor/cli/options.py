"""Options several commands share."""

import argparse
from typing import Any

from monitor.errors import ConfigError
from monitor.settings import KafkaSettings
from schemas.connection import parse_broker

__all__ = ["add_broker", "add_command", "add_traffic", "with_broker"]


def add_command(commands: Any, name: str, summary: str, description: str) -> Any:
    """A subcommand whose ``--help`` prints ``description`` as written (line breaks kept)."""
    return commands.add_parser(
        name,
        help=summary,
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def add_broker(parser: argparse.ArgumentParser) -> None:
    """``--broker``, defaulting to the ``kafka.broker`` setting."""
    parser.add_argument(
        "--broker",
        metavar="kafka://HOST:PORT",
        help="Kafka address (default: the kafka.broker setting, $DRIFTLINE_KAFKA__BROKER, "
        "else kafka://localhost:9092)",
    )


def with_broker(kafka: KafkaSettings, args: argparse.Namespace) -> KafkaSettings:
    """``kafka`` with ``--broker``, when given, as its broker (a ConfigError if it is not
    a Kafka URL); its security settings stay."""
    if not args.broker:
        return kafka
    try:
        parse_broker(args.broker)
    except ValueError as error:
        raise ConfigError(f"--broker: {error}") from error
    return kafka.model_copy(update={"broker": args.broker})


def add_traffic(parser: argparse.ArgumentParser) -> None:
    """``--events``, ``--rate`` and ``--seed`` of the synthetic services."""
    parser.add_argument(
        "--events",
        type=int,
        default=60_000,
        metavar="N",
        help="prediction events in all (default 60,000)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=1_000.0,
        metavar="PER_SECOND",
        help="events per second of wall time, in all; 0 = as fast as possible",
    )
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
