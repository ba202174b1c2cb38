"""``driftline schema``: the JSON Schema of every event, alert, dead letter and summary."""

import argparse
import json
from typing import Any

from schemas.json_schema import json_schemas

__all__ = ["register", "run"]


def register(commands: Any) -> None:
    """Add the subcommand."""
    parser = commands.add_parser(
        "schema",
        help="print the JSON Schema of every event, alert, dead letter and feature summary",
        description="Print one JSON Schema document whose $defs hold PredictionEvent, "
        "LabelEvent and MetricEvent (for producers in any language to validate with), "
        "Alert (driftline.drift-alerts and driftline.degradation-alerts), DeadLetter "
        "(driftline.dead-letter) and FeatureStats (driftline.feature-stats), with the "
        "models they use.",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the schema."""
    print(json.dumps(json_schemas(), indent=2))
    return 0
