"""NannyML's univariate drift on the peers' data set; runs in NannyML's own venv.

The two DataFrames are built before timing. Timed apart: ``fit`` of a
``UnivariateDriftCalculator`` on the reference and ``calculate`` on the current set,
one chunk covering every row (``chunk_size`` = rows). Methods: Jensen-Shannon and
Kolmogorov-Smirnov on numeric columns, Jensen-Shannon and chi-square on categorical
ones (two tests per column, as driftline's defaults run).

Thresholds: NannyML's default (mean +- 3 std of the reference chunks' values) is
meaningless with one reference chunk (no spread: the threshold is the reference's own
value, about 0, and every column alerts), so Jensen-Shannon and Kolmogorov-Smirnov get a
``ConstantThreshold(upper=0.1)`` (Evidently's Jensen-Shannon default); chi-square keeps
its p-value < 0.05. A column drifts when any of its methods alerts.

Run it with ``NML_DISABLE_USAGE_LOGGING=1`` (the benchmark does): otherwise NannyML
sends usage analytics from ``fit`` and ``calculate``.
"""

import argparse
import warnings
from time import perf_counter
from typing import Any

import nannyml  # type: ignore[import-not-found,unused-ignore]
from harness import DataSet, Outcome, data_frames, main
from nannyml.thresholds import ConstantThreshold  # type: ignore[import-not-found,unused-ignore]

CONTINUOUS = ["jensen_shannon", "kolmogorov_smirnov"]
CATEGORICAL = ["jensen_shannon", "chi2"]
LIMIT = 0.1


def prepare(data: DataSet, args: argparse.Namespace) -> tuple[Any, Any]:
    """The reference and current DataFrames."""
    warnings.filterwarnings("ignore", message="The resulting number of chunks is too low")
    return data_frames(data)


def call(frames: tuple[Any, Any], data: DataSet, args: argparse.Namespace) -> Outcome:
    """Fit on the reference, calculate on the current set."""
    reference, current = frames
    calculator = nannyml.UnivariateDriftCalculator(
        column_names=data.names,
        treat_as_categorical=data.categorical_names,
        chunk_size=len(reference),
        continuous_methods=CONTINUOUS,
        categorical_methods=CATEGORICAL,
        thresholds={
            "jensen_shannon": ConstantThreshold(upper=LIMIT),
            "kolmogorov_smirnov": ConstantThreshold(upper=LIMIT),
        },
    )
    started = perf_counter()
    calculator.fit(reference)
    fitted = perf_counter()
    result = calculator.calculate(current)
    done = perf_counter()
    table = result.filter(period="analysis").to_df()
    fired: dict[str, list[str]] = {}
    for column in table.columns:
        if column[-1] == "alert" and bool(table[column].any()):
            fired.setdefault(column[0], []).append(column[1])
    return Outcome(
        {"fit": fitted - started, "calculate": done - fitted},
        sorted(fired),
        info={
            "chunks": len(table),
            "methods": {"numeric": CONTINUOUS, "categorical": CATEGORICAL},
            "fired": fired,
        },
    )


if __name__ == "__main__":
    raise SystemExit(main("nannyml", ["nannyml", "pandas", "numpy", "scipy"], prepare, call))
