"""What every peer script shares: the data set, the timed calls, the JSON it prints.

Standard library and numpy only, so it runs in every peer's virtual environment (pandas
only inside :func:`data_frames`, for the peers that take DataFrames); it never imports
driftline. A peer script is run as ``python SCRIPT DATA_DIR [--calls N]
[its own options]`` (its folder comes first on ``sys.path``, so ``import harness``
finds this module) and prints one JSON object on stdout:

``tool``, ``versions`` (of the packages it names), ``python``; ``calls``: per call, the
seconds of each timed part (in order) and their ``total``; ``tested``, ``flagged`` and
``false_alarms`` (feature names) from the last call, and whether every call flagged the
same ones; ``rss_before_mib``: the process's resident memory after loading the data and
preparing the inputs, just before the first call; ``info``: anything else the tool
reports.

Each call starts from the prepared inputs (DataFrames, row dicts, lists), which are
built once and not timed; each tool times its own parts with ``time.perf_counter``.
"""

import argparse
import gc
import json
import platform
import resource
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

__all__ = ["DataSet", "Outcome", "load", "main", "rss_mib"]

State = TypeVar("State")


@dataclass(frozen=True)
class DataSet:
    """The reference and current rows, column-wise, and which features were shifted."""

    numeric_names: list[str]
    categorical_names: list[str]
    shifted: list[str]
    reference_numeric: npt.NDArray[np.float64]
    """Rows x numeric features."""
    reference_categorical: npt.NDArray[np.str_]
    """Rows x categorical features (strings)."""
    current_numeric: npt.NDArray[np.float64]
    current_categorical: npt.NDArray[np.str_]

    @property
    def names(self) -> list[str]:
        """Every feature: numeric ones first."""
        return self.numeric_names + self.categorical_names


@dataclass
class Outcome:
    """One call: seconds of each timed part, and the features found drifting.

    ``false_alarms``: features a detector alarmed on where there was no drift to find,
    beyond those in ``flagged`` that were not shifted (river's alarms on the reference
    part of the stream). ``tested``: the features the tool looked at (default: all).
    """

    parts: dict[str, float]
    flagged: list[str]
    false_alarms: list[str] = field(default_factory=list)
    tested: list[str] | None = None
    info: dict[str, Any] = field(default_factory=dict)


def data_frames(data: DataSet) -> tuple[Any, Any]:
    """The reference and current DataFrames: numeric columns, then categorical ones
    (Python str), for the peers that take pandas."""
    import pandas as pd  # type: ignore[import-untyped,import-not-found,unused-ignore]

    def frame(numeric: Any, categorical: Any) -> Any:
        df = pd.DataFrame(numeric, columns=data.numeric_names)
        for j, name in enumerate(data.categorical_names):
            df[name] = categorical[:, j].astype(object)
        return df

    return (
        frame(data.reference_numeric, data.reference_categorical),
        frame(data.current_numeric, data.current_categorical),
    )


def load(directory: Path) -> DataSet:
    """Read the data set written by ``python -m bench peers`` (``.npz`` and ``meta.json``)."""
    meta = json.loads((directory / "meta.json").read_text())
    with (
        np.load(directory / "reference.npz") as reference,
        np.load(directory / "current.npz") as current,
    ):
        return DataSet(
            numeric_names=list(meta["numeric"]),
            categorical_names=list(meta["categorical"]),
            shifted=list(meta["shifted"]),
            reference_numeric=reference["numeric"],
            reference_categorical=reference["categorical"],
            current_numeric=current["numeric"],
            current_categorical=current["categorical"],
        )


def rss_mib() -> float:
    """Resident memory of this process now (Linux), else its peak so far, in MiB."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * resource.getpagesize() / 2**20
    except (OSError, IndexError, ValueError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / (2**20 if sys.platform == "darwin" else 2**10)


def _versions(packages: list[str]) -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for package in packages:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def main(
    tool: str,
    packages: list[str],
    prepare: Callable[[DataSet, argparse.Namespace], State],
    call: Callable[[State, DataSet, argparse.Namespace], Outcome],
    parser: argparse.ArgumentParser | None = None,
) -> int:
    """Parse the command line, load and prepare the data, run the calls, print the JSON.

    ``prepare`` builds the tool's inputs once (not timed); ``call`` runs the drift
    computation on them and times its parts itself.
    """
    parser = parser or argparse.ArgumentParser()
    parser.add_argument("data", type=Path, help="folder of the data set")
    parser.add_argument("--calls", type=int, default=2, help="calls in this process")
    args = parser.parse_args()
    data = load(args.data)
    state = prepare(data, args)
    gc.collect()
    before = rss_mib()
    calls: list[dict[str, Any]] = []
    flags: list[tuple[list[str], list[str]]] = []
    outcome: Outcome | None = None
    for _ in range(args.calls):
        outcome = call(state, data, args)
        calls.append({"parts": outcome.parts, "total": sum(outcome.parts.values())})
        flags.append((sorted(outcome.flagged), sorted(outcome.false_alarms)))
        gc.collect()
    if outcome is None:
        parser.error("--calls must be at least 1")
    result = {
        "tool": tool,
        "versions": _versions(packages),
        "python": platform.python_version(),
        "calls": calls,
        "tested": outcome.tested if outcome.tested is not None else data.names,
        "flagged": sorted(outcome.flagged),
        "false_alarms": sorted(outcome.false_alarms),
        "same_flags_every_call": all(f == flags[0] for f in flags),
        "rss_before_mib": before,
        "info": outcome.info,
    }
    print(json.dumps(result))
    return 0
