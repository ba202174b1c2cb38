"""``driftline reference build``: a compact, versioned summary of reference data."""

import argparse
import sys
from pathlib import Path
from typing import Any

from monitor.cli.options import add_command
from monitor.errors import InputError
from monitor.reference.io import read_reference, write_reference
from monitor.settings import load_settings

__all__ = ["register", "run_build"]

HELP = """\
Summarise reference data (training data, or a known-good period) per model and version:
quantile bins, counts, moments and range of numeric features; category frequencies with
an "other" bucket; missing rates; the prediction; label performance when labels are
present. The summary is small, and its id (model/version/ref-<hash>) changes only when
its content does; every alert names the id it was tested against.
"""


def register(commands: Any) -> None:
    """Add the subcommand group."""
    parser = commands.add_parser(
        "reference", help="build reference summaries", description="Reference summaries."
    )
    actions = parser.add_subparsers(title="actions", metavar="ACTION", required=True)
    build = add_command(actions, "build", "summarise a reference file", HELP)
    build.add_argument(
        "source",
        type=Path,
        metavar="REF",
        help=".jsonl of PredictionEvents, or .csv with one column per feature "
        "(optional columns prediction and label)",
    )
    build.add_argument(
        "--out", type=Path, required=True, metavar="ref.json", help="where to write the summary"
    )
    build.add_argument(
        "--config",
        type=Path,
        metavar="driftline.toml",
        help="settings file (reference.bins, reference.max_categories, features.*.*.bins, ...)",
    )
    build.set_defaults(run=run_build)


def run_build(args: argparse.Namespace) -> int:
    """Build and write the summary."""
    settings = load_settings(args.config)
    if args.source.suffix.lower() == ".json":
        raise InputError(f"{args.source} is already built; pass raw .jsonl or .csv data")
    references = read_reference(args.source, settings.reference, settings.features)
    try:
        write_reference(references, args.out)
    except OSError as error:
        raise InputError(f"cannot write {args.out}: {error.strerror or error}") from error
    for profile in references.profiles.values():
        print(
            f"driftline: {profile.id}: {profile.events:,} events, "
            f"{len(profile.features.layout.names)} features",
            file=sys.stderr,
        )
    print(f"driftline: wrote {args.out}", file=sys.stderr)
    return 0
