"""Evidently's data drift report on the peers' data set; runs in Evidently's own venv.

The two DataFrames (float columns, then string columns) are built before timing. The one
timed part, ``report``, is ``Report([DataDriftPreset()]).run(current, reference)`` with
the preset's defaults: Evidently infers the column types and, above 1,000 rows, tests
numeric columns with the normed Wasserstein distance (threshold 0.1) and categorical ones
with the Jensen-Shannon distance (0.1). A column drifts as its ``ValueDrift`` metric says:
a distance at or above its threshold, or a p-value below it.
"""

import argparse
from time import perf_counter
from typing import Any

from evidently import Report  # type: ignore[import-not-found,unused-ignore]
from evidently.presets import DataDriftPreset  # type: ignore[import-not-found,unused-ignore]
from harness import DataSet, Outcome, data_frames, main


def prepare(data: DataSet, args: argparse.Namespace) -> tuple[Any, Any]:
    """The reference and current DataFrames."""
    return data_frames(data)


def drifting(snapshot: Any) -> tuple[list[str], dict[str, str]]:
    """Columns whose ValueDrift metric fired, and the method used on each column."""
    flagged, methods = [], {}
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        if not config.get("type", "").endswith("ValueDrift"):
            continue
        column, method, threshold = config["column"], config["method"], config["threshold"]
        value = float(metric["value"])
        methods[column] = method
        fired = value < threshold if "p_value" in method else value >= threshold
        if fired:
            flagged.append(column)
    return flagged, methods


def call(frames: tuple[Any, Any], data: DataSet, args: argparse.Namespace) -> Outcome:
    """Run the report on both DataFrames."""
    reference, current = frames
    started = perf_counter()
    snapshot = Report([DataDriftPreset()]).run(current, reference)
    done = perf_counter()
    flagged, methods = drifting(snapshot)
    return Outcome(
        {"report": done - started}, flagged, info={"methods": sorted(set(methods.values()))}
    )


if __name__ == "__main__":
    raise SystemExit(main("evidently", ["evidently", "pandas", "numpy", "scipy"], prepare, call))
