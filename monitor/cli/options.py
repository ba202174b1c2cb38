"""Options several commands share."""

import argparse

from monitor.settings import load_settings

__all__ = ["add_broker", "broker"]


def add_broker(parser: argparse.ArgumentParser) -> None:
    """``--broker``, defaulting to the ``kafka.broker`` setting."""
    parser.add_argument(
        "--broker",
        metavar="kafka://HOST:PORT",
        help="Kafka address (default: the kafka.broker setting, $DRIFTLINE_KAFKA__BROKER, "
        "else kafka://localhost:9092)",
    )


def broker(args: argparse.Namespace) -> str:
    """The broker to use: ``--broker``, else the settings'."""
    if args.broker:
        return str(args.broker)
    return load_settings(getattr(args, "config", None)).kafka.broker
