"""``driftline replay``: run a recorded stream through the embedded engine."""

import argparse
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any

from monitor.cli.options import add_command
from monitor.core import Monitor
from monitor.engine.embedded import EmbeddedEngine
from monitor.engine.replay import ReplaySummary, replay
from monitor.errors import InputError
from monitor.reference.io import read_reference
from monitor.settings import load_settings
from monitor.sinks import JsonLinesSink
from schemas import topics
from schemas.alerts import Alert, AlertStatus

__all__ = ["register", "run"]

HELP = """\
Run a recorded stream through the embedded engine (no broker) in event order and write
every alert as one JSON line. Labels and metrics are merged in by event time. Lines that
are not valid events go to --dead-letter with the reason and are counted on stderr, as
are each model's labels matched, held and unmatched; the exit code is 0 unless an input
file cannot be read (2). Same input, same alerts.
"""


def register(commands: Any) -> None:
    """Add the subcommand."""
    parser = add_command(
        commands, "replay", "replay recorded events (.jsonl) and write alerts", HELP
    )
    parser.add_argument(
        "events",
        type=Path,
        metavar="EVENTS.jsonl",
        help="PredictionEvents, one JSON object (or array) per line",
    )
    parser.add_argument(
        "--reference",
        type=Path,
        required=True,
        metavar="REF",
        help="built reference (.json), PredictionEvents (.jsonl) or features "
        "(.csv); models it lacks are tested against their first events",
    )
    parser.add_argument("--labels", type=Path, metavar="LABELS.jsonl", help="LabelEvents")
    parser.add_argument("--metrics", type=Path, metavar="METRICS.jsonl", help="MetricEvents")
    parser.add_argument(
        "--config",
        type=Path,
        metavar="driftline.toml",
        help="settings file (DRIFTLINE_* variables override it)",
    )
    parser.add_argument(
        "--alerts", type=Path, metavar="OUT.jsonl", help="write alerts here instead of stdout"
    )
    parser.add_argument(
        "--dead-letter",
        type=Path,
        metavar="DLQ.jsonl",
        help="write refused lines here, with the reason",
    )
    parser.set_defaults(run=run)


def _open(stack: ExitStack, path: Path) -> IO[str]:
    try:
        return stack.enter_context(path.open("w", encoding="utf-8"))
    except OSError as error:
        raise InputError(f"cannot write {path}: {error.strerror or error}") from error


def run(args: argparse.Namespace) -> int:
    """Replay and report."""
    settings = load_settings(args.config)
    references = read_reference(args.reference, settings.reference, settings.features)
    engine = EmbeddedEngine(Monitor(settings, references))
    alerts: list[Alert] = []
    with ExitStack() as stack:
        alert_sink = JsonLinesSink(_open(stack, args.alerts) if args.alerts else sys.stdout)
        for topic in (topics.DRIFT_ALERTS, topics.DEGRADATION_ALERTS):
            engine.bus.subscribe(topic, alert_sink)
            engine.bus.subscribe(topic, alerts.extend)
        if args.dead_letter:
            engine.bus.subscribe(topics.DEAD_LETTER, JsonLinesSink(_open(stack, args.dead_letter)))
        inputs = [p for p in (args.events, args.labels, args.metrics) if p is not None]
        summary = _with_progress(engine, args, inputs)
    _report(summary, alerts, args, engine.monitor)
    return 0


def _with_progress(
    engine: EmbeddedEngine, args: argparse.Namespace, inputs: list[Path]
) -> ReplaySummary:
    if not sys.stderr.isatty():
        return replay(engine, args.events, args.labels, args.metrics)
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    total = sum(p.stat().st_size for p in inputs if p.is_file())
    columns = (
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task("replaying", total=total)
        return replay(
            engine, args.events, args.labels, args.metrics, progress=lambda n: bar.advance(task, n)
        )


def _report(
    summary: ReplaySummary, alerts: list[Alert], args: argparse.Namespace, monitor: Monitor
) -> None:
    accepted = summary.accepted
    rate = summary.events / summary.seconds if summary.seconds > 0 else 0.0
    firing = sum(a.status == AlertStatus.FIRING for a in alerts)
    where = f" -> {args.alerts}" if args.alerts else ""
    lines = [
        f"replayed {accepted['predictions']:,} predictions, {accepted['labels']:,} labels and "
        f"{accepted['metrics']:,} metrics in {summary.seconds:.1f} s ({rate:,.0f} events/s)",
        f"{len(alerts)} alerts ({firing} firing, {len(alerts) - firing} resolved){where}",
    ]
    refused = sum(summary.rejected.values())
    if refused:
        reasons = ", ".join(f"{k} {n}" for k, n in sorted(summary.rejected.items()))
        kept = (
            f" -> {args.dead_letter}"
            if args.dead_letter
            else " (add --dead-letter FILE to keep them)"
        )
        lines.append(f"{refused} refused{kept}: {reasons}")
    for model, joined in monitor.label_joins().items():
        lines.append(f"{model}: {joined.summary()}")
    for line in lines:
        print(f"driftline: {line}", file=sys.stderr)
