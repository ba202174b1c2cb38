"""driftline on the peers' data set; runs with the project's Python.

``--mode columns`` (default), from columns as the peers take them (one numpy array per
feature, built before timing, as a DataFrame holds them), timed apart:

- ``reference``: :class:`~monitor.drift.batch.DriftCheck` of the reference columns
  (:func:`~monitor.reference.build.profile_columns`: column kinds, quantile bins, the
  reference's own summary);
- the window, in two parts: ``statistics``, ``DriftCheck.summarize`` of the current
  columns; ``tests``, ``DriftCheck.findings`` (the default tests; chance levels drawn in
  the call).

``--mode rows``, from rows as events carry them (one ``{feature: value}`` dict per row,
built before timing), timed apart:

- ``reference``: :class:`~monitor.reference.build.ProfileBuilder` ``.add`` for every
  reference row, then ``.build()`` (column kinds, quantile bins, the reference's own
  summary), as ``driftline reference build`` does;
- the window, in two parts: ``statistics``, a
  :class:`~monitor.stats.columns.ColumnSummary` of the profile's layout and
  ``update_rows`` with every current row (one batch); ``tests``,
  :func:`~monitor.drift.checks.drift_findings` with the default tests and a fresh
  :class:`~monitor.drift.null_bands.NullBands` (its chance levels are drawn in the call).

``--mode wire``, from the wire format: the current rows as JSON lines of prediction
events (encoded before timing), the profile built as above, then timed apart
``decode`` (:func:`schemas.wire.decode_prediction_lines`) and ``monitor``
(:meth:`monitor.core.Monitor.process_predictions` with one count window as long as the
current set: window statistics, drift, quality and multivariate tests, alert policy,
feature stats).
"""

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from time import perf_counter
from typing import Any

import msgspec
from harness import DataSet, Outcome, main

import monitor
from monitor.core import Monitor
from monitor.drift.batch import DriftCheck
from monitor.drift.checks import drift_findings
from monitor.drift.null_bands import NullBands
from monitor.reference.build import ProfileBuilder
from monitor.reference.profile import ReferenceProfile, ReferenceSet
from monitor.settings import MonitorSettings
from monitor.stats.columns import ColumnSummary
from schemas.alerts import AlertKind
from schemas.wire import decode_prediction_lines

MODEL, VERSION = "bench", "1"
SOURCE = str(Path(monitor.__file__).resolve().parent.parent)
"""Where driftline was imported from (``--tree`` puts another folder first)."""


@dataclass
class Inputs:
    """Columns, or rows (and, in wire mode, JSON lines), built once, before any call."""

    settings: MonitorSettings
    reference: list[dict[str, Any]] = field(default_factory=list)
    current: list[dict[str, Any]] = field(default_factory=list)
    reference_columns: dict[str, Any] = field(default_factory=dict)
    current_columns: dict[str, Any] = field(default_factory=dict)
    lines: bytes = b""


def rows(data: DataSet, numeric: Any, categorical: Any) -> list[dict[str, Any]]:
    """One dict per row, numeric features (Python floats) first, then categorical ones."""
    columns = [*numeric.T.tolist(), *categorical.T.tolist()]
    names = data.names
    return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]


def columns(data: DataSet, numeric: Any, categorical: Any) -> dict[str, Any]:
    """One contiguous array per feature, as a DataFrame's columns are: float64 for the
    numbers, Python strings (object) for the categories, as the peers' DataFrames hold
    them."""
    arrays = [*numeric.T.copy(), *categorical.T.astype(object)]
    return dict(zip(data.names, arrays, strict=True))


def prepare(data: DataSet, args: argparse.Namespace) -> Inputs:
    """Columns of both sets, or row dicts; JSON lines of the current set in wire mode."""
    if args.mode == "columns":
        return Inputs(
            settings=MonitorSettings(),
            reference_columns=columns(data, data.reference_numeric, data.reference_categorical),
            current_columns=columns(data, data.current_numeric, data.current_categorical),
        )
    current = rows(data, data.current_numeric, data.current_categorical)
    size = len(current)
    inputs = Inputs(
        settings=MonitorSettings(window={"size": size, "hop": size}),
        reference=rows(data, data.reference_numeric, data.reference_categorical),
        current=current,
    )
    if args.mode == "wire":
        encode = msgspec.json.Encoder().encode
        events = (
            {"event_id": str(i), "model": MODEL, "model_version": VERSION, "ts": float(i)}
            | {"features": row}
            for i, row in enumerate(current)
        )
        inputs.lines = b"".join(encode(event) + b"\n" for event in events)
    return inputs


def build_profile(inputs: Inputs) -> ReferenceProfile:
    """The reference profile, as ``driftline reference build`` makes it."""
    builder = ProfileBuilder(MODEL, VERSION, inputs.settings.reference)
    for row in inputs.reference:
        builder.add(row)
    return builder.build()


def call_columns(inputs: Inputs) -> Outcome:
    """Profile the reference columns, then test the current columns against it."""
    started = perf_counter()
    check = DriftCheck(inputs.reference_columns, inputs.settings.drift, inputs.settings.reference)
    built = perf_counter()
    summary = check.summarize(inputs.current_columns)
    summarised = perf_counter()
    findings = check.findings(summary)
    done = perf_counter()
    return outcome(findings, started, built, summarised, done)


def outcome(
    findings: list[Any], started: float, built: float, summarised: float, done: float
) -> Outcome:
    """The parts timed and the features found drifting."""
    fired = {f.subject: f.statistic for f in findings if f.breached}
    return Outcome(
        {
            "reference": built - started,
            "statistics": summarised - built,
            "tests": done - summarised,
        },
        list(fired),
        info={"findings": len(findings), "fired": fired, "code": SOURCE},
    )


def call(inputs: Inputs, data: DataSet, args: argparse.Namespace) -> Outcome:
    """Build the profile, then test the current set against it."""
    if args.mode == "columns":
        return call_columns(inputs)
    started = perf_counter()
    profile = build_profile(inputs)
    built = perf_counter()
    if args.mode == "wire":
        core = Monitor(inputs.settings, ReferenceSet([profile]))
        events = decode_prediction_lines(inputs.lines)
        decoded = perf_counter()
        out = core.process_predictions(events)
        stats = out.stats  # the summaries are built when read: part of the result, timed
        done = perf_counter()
        columns = stats[0].columns if stats else {}
        flagged = [name for name, column in columns.items() if column.drifting]
        parts = {"reference": built - started, "decode": decoded - built, "monitor": done - decoded}
        return Outcome(
            parts,
            flagged,
            info={"windows": len(stats), "alerts": len(out.alerts), "code": SOURCE},
        )
    drift = inputs.settings.drift
    summary = ColumnSummary(profile.features.layout)
    summary.update_rows(inputs.current)
    summarised = perf_counter()
    findings = drift_findings(
        AlertKind.FEATURE_DRIFT, profile.features, summary, drift, NullBands(drift.null_z)
    )
    done = perf_counter()
    return outcome(findings, started, built, summarised, done)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mode", choices=["columns", "rows", "wire"], default="columns")
    raise SystemExit(main("driftline", ["driftline", "numpy", "msgspec"], prepare, call, parser))
