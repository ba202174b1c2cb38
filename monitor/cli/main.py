"""The ``driftline`` command line.

Every subcommand lives in its own module and registers itself here; errors driftline
expects (a missing file, an invalid setting) end with one clear line and exit code 2,
never a traceback.
"""

import argparse
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

from monitor.cli import alerts, demo, dev, produce, reference, replay, schema, worker
from monitor.errors import DriftlineError

__all__ = ["main"]

DESCRIPTION = """\
driftline watches the live event stream of ML models in production: it keeps rolling
statistics per model, version and feature, tests them against a reference, and raises
drift and degradation alerts as the data changes, not hours later.

First run `driftline demo`. To monitor recorded events, build a reference from training
data and replay:

  driftline reference build train.csv --out ref.json
  driftline replay events.jsonl --reference ref.json --labels labels.jsonl
"""


def _version() -> str:
    try:
        return version("driftline")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    """The parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="driftline",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"driftline {_version()}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for module in (demo, replay, reference, schema, worker, produce, alerts, dev):
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.run(args)
    except DriftlineError as error:
        print(f"driftline: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("driftline: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `driftline replay ... | head`
        sys.stderr.close()
        return 0
    return code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
