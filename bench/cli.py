"""What the benchmarks' command lines share: progress lines, ``--tree`` and ``--env``.

Standard library only, so that a measured process may import it without paying for
anything else.
"""

import argparse
import sys
from pathlib import Path

__all__ = ["add_env_option", "add_tree_option", "env_setting", "log"]


def log(message: str) -> None:
    """A progress line on stderr."""
    print(f"bench: {message}", file=sys.stderr, flush=True)


def add_tree_option(parser: argparse.ArgumentParser, what: str = "measure") -> None:
    """``--tree DIR``: run the driftline code of an exported commit, not the working tree."""
    parser.add_argument(
        "--tree",
        type=Path,
        help=f"{what} the driftline code in this folder instead of the working tree, e.g. "
        "a commit exported with: git archive HEAD | tar -x -C /tmp/head",
    )


def env_setting(text: str) -> tuple[str, str]:
    """``NAME=VALUE`` of a ``DRIFTLINE_*`` variable.

    >>> env_setting("DRIFTLINE_KAFKA__BATCH_MESSAGES=5000")
    ('DRIFTLINE_KAFKA__BATCH_MESSAGES', '5000')
    """
    name, equals, value = text.partition("=")
    if not equals or not name.startswith("DRIFTLINE_"):
        raise argparse.ArgumentTypeError(f"expected DRIFTLINE_NAME=VALUE, got {text!r}")
    return name, value


def add_env_option(parser: argparse.ArgumentParser, help: str) -> None:
    """``--env DRIFTLINE_X=VALUE`` (repeatable): settings for the workers a benchmark runs,
    as a list of ``(name, value)``."""
    parser.add_argument(
        "--env",
        type=env_setting,
        action="append",
        default=[],
        metavar="DRIFTLINE_X=VALUE",
        help=help,
    )
