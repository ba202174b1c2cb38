"""Hostile cardinality: memory and checkpoint size under a stream of distinct names.

Run from the repository root::

    python -m bench cardinality                         # 1,000,000 values per dimension
    python -m bench cardinality --values 100000 --dimension models versions
    python -m bench cardinality --tree /tmp/head        # the code of an exported commit

For each dimension a process of its own (peak RSS is its own, read by
:mod:`bench.launch`) feeds the embedded engine's :class:`~monitor.core.Monitor` with
``--values`` predictions in micro-batches of ``--batch``, each bringing a name never
seen before:

- ``models``: every event of a new model (``m-0``, ``m-1``, ...);
- ``versions``: one model, every event of a new version;
- ``features``: one model, every event with a new feature name (next to two steady ones);
- ``categories``: one model, every event with a new value of a categorical feature;
- ``metrics``: one model, every MetricEvent with a new metric name.

Each event also has a steady numeric and categorical feature and a score, with default
settings otherwise (no reference: models build theirs from their first events). The
process then reports what the monitor holds (models, versions, feature columns,
categories, metric trackers) and the checkpoint size: the JSON of each model version's
window state and metric trackers, which is what ``Monitor.export_model`` writes but for
alert episodes and label trackers (none here), summed over the models held (for
``models``, the mean of a
sample of 200 times the models held).

The table goes to stdout, to the ``cardinality`` section of ``bench/RESULTS.md`` and to
``bench/out/cardinality.md``; every figure to ``bench/out/cardinality.json``.
"""

import argparse
import json
import os
import platform
import resource
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["main"]

DIMENSIONS = ("models", "versions", "features", "categories", "metrics")
VALUES = 1_000_000
BATCH = 1000
SAMPLE = 200
MEMORY_GIB = 6.0


def _child(
    dimension: str, values: int, batch: int, overrides: dict[str, Any], memory_gib: float
) -> None:
    """Feed one dimension's stream to a Monitor and print what it holds, as JSON.

    The address space is capped at ``memory_gib``: a stream that would take more ends
    in a MemoryError, reported with how far it went, and not in the machine's OOM killer.
    """
    limit = int(memory_gib * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    import msgspec

    from monitor.core import Monitor
    from monitor.settings import MonitorSettings
    from schemas.wire import WireMetric, WirePrediction

    monitor = Monitor(MonitorSettings(**overrides))
    started = time.perf_counter()
    dead = fed = 0
    try:
        for start in range(0, values, batch):
            stop = min(start + batch, values)
            if dimension == "metrics":
                metrics = [
                    WireMetric("m", float(i), f"metric-{i}", float(i % 7))
                    for i in range(start, stop)
                ]
                out = monitor.process_metrics(metrics)
            else:
                events = [_prediction(dimension, i, WirePrediction) for i in range(start, stop)]
                out = monitor.process_predictions(events)
            dead += len(getattr(out, "dead", ()))
            fed = stop
    except MemoryError:
        monitor = Monitor(MonitorSettings(**overrides))  # let go of it, to report
        print(json.dumps({"out_of_memory_at": fed, "seconds": time.perf_counter() - started}))
        return
    seconds = time.perf_counter() - started
    fed_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # a model's checkpoint is mostly its versions' windows and its metric trackers,
    # summed here part by part: exporting a model with 1,000,000 versions at once would
    # take more memory than the feeding did
    parts: dict[str, list[Any]] = {}
    for (model, _), version in monitor.models.items():
        parts.setdefault(model, []).append(version)
    for (model, _, _), tracker in monitor.metric_trackers.items():
        parts.setdefault(model, []).append(tracker)
    models = sorted(parts)
    sample = models if dimension != "models" else models[:: max(1, len(models) // SAMPLE)]
    sizes = [sum(len(msgspec.json.encode(p.to_dict())) for p in parts[m]) for m in sample]
    checkpoint = sum(sizes) / max(len(sizes), 1) * len(models)
    columns = [len(m.profile.features.layout.names) for m in monitor.models.values() if m.profile]
    categories = [
        max((len(c) for c in m.profile.features.layout.categorical.categories), default=0)
        for m in monitor.models.values()
        if m.profile
    ]
    print(
        json.dumps(
            {
                "seconds": seconds,
                "models": len(models),
                "versions": len(monitor.models),
                "columns": max(columns, default=0),
                "categories": max(categories, default=0),
                "metric_trackers": len(monitor.metric_trackers),
                "checkpoint_bytes": checkpoint,
                "largest_checkpoint_bytes": max(sizes, default=0),
                "dead_letters": dead,
                "fed_rss_mib": fed_rss,
                "code": str(Path(sys.modules["monitor"].__file__ or "").parent.parent),
            }
        )
    )


def _prediction(dimension: str, i: int, make: Any) -> Any:
    model, version = "m", "1"
    features: dict[str, Any] = {"x": float(i % 97), "c": "abc"[i % 3]}
    if dimension == "models":
        model = f"m-{i}"
    elif dimension == "versions":
        version = f"v{i}"
    elif dimension == "features":
        features[f"f-{i}"] = 1.0
    else:
        features["c"] = f"cat-{i}"
    return make(f"e{i}", model, float(i), features, model_version=version, prediction=(i % 10) / 10)


def _commit() -> str:
    """The working tree's commit, marked when it has uncommitted changes."""
    described = subprocess.run(
        ["git", "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent,
    )
    return f"commit {described.stdout.strip() or '?'}"


def main(argv: list[str]) -> int:
    """Run every dimension in a process of its own; print and write the table."""
    # imported here: the measured child runs this file with the standard library only
    from bench import results
    from bench.cli import add_tree_option, log
    from bench.replay import run_measured, source_digest
    from bench.stream import OUT

    parser = argparse.ArgumentParser(prog="python -m bench cardinality", description=__doc__)
    parser.add_argument("--values", type=int, default=VALUES, help="distinct values per dimension")
    parser.add_argument("--batch", type=int, default=BATCH, help="events per micro-batch")
    parser.add_argument(
        "--dimension", nargs="+", choices=DIMENSIONS, default=list(DIMENSIONS), help="which streams"
    )
    parser.add_argument(
        "--settings",
        default="{}",
        help='monitor settings as JSON, e.g. \'{"limits": {"max_models": 100}}\'',
    )
    parser.add_argument(
        "--memory-gib",
        type=float,
        default=MEMORY_GIB,
        help="address space of each measured process (a MemoryError past it is reported)",
    )
    add_tree_option(parser)
    args = parser.parse_args(argv)
    json.loads(args.settings)  # invalid JSON fails here, not in every child

    rows = []
    for dimension in args.dimension:
        log(f"{dimension}: {args.values:,} distinct values")
        # run as a script: ``-m`` would put the working directory, and its driftline,
        # ahead of --tree on sys.path
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            dimension,
            str(args.values),
            str(args.batch),
            args.settings,
            str(args.memory_gib),
        ]
        wall, rss, stdout, _ = run_measured(command, args.tree)
        figures = json.loads(stdout.strip().splitlines()[-1])
        rows.append({"dimension": dimension, "wall": wall, "rss_mib": rss, **figures})
        log(f"measured the code in {figures.get('code')}")

    code = f"{args.tree} (sources {source_digest(args.tree)[:10]})" if args.tree else _commit()
    lines = [
        f"`python -m bench {shlex.join(['cardinality', *argv])}`: {args.values:,} distinct values "
        f"per dimension, micro-batches of {args.batch:,}, settings {args.settings}. "
        f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}. driftline code: {code}.",
        "",
        "| distinct | events/s | peak RSS MiB (fed / with export) | models | versions "
        "| feature columns | categories | metric trackers | checkpoint bytes (all models) "
        "| largest checkpoint | dead letters |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        if "out_of_memory_at" in row:
            lines.append(
                f"| {row['dimension']} | {row['out_of_memory_at'] / row['seconds']:,.0f} "
                f"| MemoryError at {args.memory_gib:g} GiB after {row['out_of_memory_at']:,} "
                "values | | | | | | | | |"
            )
            continue
        rss_text = f"{row['rss_mib']:,.0f}" if row["rss_mib"] is not None else "?"
        lines.append(
            f"| {row['dimension']} | {args.values / row['seconds']:,.0f} "
            f"| {row['fed_rss_mib']:,.0f} / {rss_text} "
            f"| {row['models']:,} | {row['versions']:,} | {row['columns']:,} "
            f"| {row['categories']:,} | {row['metric_trackers']:,} "
            f"| {row['checkpoint_bytes']:,.0f} | {row['largest_checkpoint_bytes']:,} "
            f"| {row['dead_letters']:,} |"
        )
    table = "\n".join(lines)
    print(table)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "cardinality.md").write_text(table + "\n")
    results.record("cardinality", f"## Hostile cardinality\n\n{table}\n")
    (OUT / "cardinality.json").write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":  # the measured child: DIMENSION VALUES BATCH SETTINGS MEMORY_GIB
    dimension, values, batch, settings, memory_gib = sys.argv[1:]
    _child(dimension, int(values), int(batch), json.loads(settings), float(memory_gib))
