"""``driftline demo``: synthetic services, the monitor and a live terminal view.

Three services send events through the embedded engine, as JSON, exactly as a broker
would deliver them: ``checkout-ranker`` stays stationary, ``fraud-scorer`` suffers a
covariate shift and then a new category, and ``churn-predictor``'s labels drift, so its
accuracy drops. Drift scores and alerts show up live; the demo ends by itself.
"""

import argparse
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
from rich import get_console
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from monitor.cli.options import add_command, add_traffic
from monitor.cli.render import alert_line, print_alerts
from monitor.core import Monitor
from monitor.engine.embedded import EmbeddedEngine
from monitor.errors import InputError
from monitor.reference.build import ProfileBuilder
from monitor.reference.profile import ReferenceSet
from monitor.settings import MonitorSettings, load_settings
from monitor.sinks import JsonLinesSink
from monitor.validate.validator import Validator
from producers.synthetic import SyntheticModel, scenario_services
from schemas import topics
from schemas.alerts import Alert, AlertStatus
from schemas.stats import FeatureStats
from schemas.wire import WireLabel, WirePrediction, event_seconds

__all__ = ["Demo", "register", "run"]

HELP = """\
Run three synthetic services through the embedded engine with a live view of drift
scores and alerts: one stationary, one with covariate shift then a new category, one
whose labels drift. It ends by itself after about a minute (--events and --rate change
that); Ctrl-C stops it cleanly. Add --alerts FILE to keep the alerts as JSON lines.
"""

CHUNK = 250
"""Events a service sends per round."""


def register(commands: Any) -> None:
    """Add the subcommand."""
    parser = add_command(
        commands, "demo", "see drift detected live on synthetic services (start here)", HELP
    )
    add_traffic(parser)
    parser.add_argument("--config", type=Path, metavar="driftline.toml", help="settings file")
    parser.add_argument(
        "--alerts", type=Path, metavar="OUT.jsonl", help="also write alerts here as JSON lines"
    )
    parser.set_defaults(run=run)


def services(events: int, seed: int) -> list[SyntheticModel]:
    """The demo's three services, with drift onsets scaled to ``events``."""
    return scenario_services(max(events // 3, 1), seed)


def reference_for(model: SyntheticModel, settings: MonitorSettings, events: int) -> Any:
    """A clean reference of ``model``: the same service before any drift."""
    twin = SyntheticModel(model.name, model.version, seed=model.seed, stream=1)
    bins = settings.overrides(model.name).bins
    builder = ProfileBuilder(model.name, model.version, settings.reference, bins=bins)
    predictions, labels = twin.generate(events)
    for event, label in zip(predictions, labels, strict=True):
        builder.add(event["features"], event["prediction"], label["label"])
    return builder.build()


@dataclass
class Demo:
    """State of the live view."""

    models: list[SyntheticModel]
    engine: EmbeddedEngine
    total: int
    sent: int = 0
    started: float = field(default_factory=time.perf_counter)
    alerts: deque[Alert] = field(default_factory=lambda: deque(maxlen=10))
    all_alerts: list[Alert] = field(default_factory=list)
    stats: dict[str, FeatureStats] = field(default_factory=dict)

    def on_alerts(self, alerts: Any) -> None:
        self.alerts.extend(alerts)
        self.all_alerts.extend(alerts)

    def on_stats(self, stats: Any) -> None:
        for s in stats:
            self.stats[s.model] = s

    def view(self) -> Group:
        """The screen: a table of models and the latest alerts."""
        elapsed = time.perf_counter() - self.started
        rate = self.sent / elapsed if elapsed > 0 else 0.0
        head = Text(
            f"driftline demo: {self.sent:,} / {self.total:,} events, {rate:,.0f} events/s",
            style="bold",
        )
        table = Table(expand=True)
        for column in ("model", "events", "most drifted column", "accuracy", "firing"):
            table.add_column(column)
        monitor = self.engine.monitor
        firing = monitor.policy.firing()
        for model in self.models:
            key = (model.name, model.version)
            stats = self.stats.get(model.name)
            tracker = monitor.performance.get(key)
            accuracy = "-"
            if tracker is not None and tracker.last is not None:
                scores = [f.score for f in tracker.last.findings if f.subject == "accuracy"]
                accuracy = f"{scores[0]:.3f}" if scores else "-"
            subjects = sorted(
                f"{k[3]}" + (f":{k[4]}" if k[4] else "") for k in firing if k[:2] == key
            )
            table.add_row(
                f"{model.name} v{model.version}",
                f"{model.produced:,}",
                _most_drifted(stats),
                accuracy,
                Text(", ".join(subjects) or "-", style="red" if subjects else "green"),
            )
        log = Table(title="latest alerts", expand=True, show_header=False)
        log.add_column("alert", no_wrap=True)
        width = get_console().width - 4  # the table's borders and padding
        for alert in reversed(self.alerts):
            log.add_row(alert_line(alert, width))
        return Group(head, table, log)


def _most_drifted(stats: FeatureStats | None) -> str:
    if stats is None:
        return "(first window filling)"
    ranked = [(max(c.scores.values()), name, c) for name, c in stats.columns.items() if c.scores]
    if not ranked:
        return "-"
    _, name, column = max(ranked, key=lambda item: item[0])
    test, score = max(column.scores.items(), key=lambda item: item[1])
    return f"{name} {test} {score:.3f}" + (" drifting" if column.drifting else "")


def run(args: argparse.Namespace) -> int:
    """Run the demo."""
    if args.events < 3:
        raise InputError("--events must be at least 3")
    settings = load_settings(args.config)
    console = Console(stderr=False)
    models = services(args.events, args.seed)
    if console.is_terminal:
        console.print("building references of the three services ...")
    references = ReferenceSet([reference_for(m, settings, 5_000) for m in models])
    engine = EmbeddedEngine(Monitor(settings, references))
    demo = Demo(models, engine, total=args.events)
    for topic in (topics.DRIFT_ALERTS, topics.DEGRADATION_ALERTS):
        engine.bus.subscribe(topic, demo.on_alerts)
    engine.bus.subscribe(topics.FEATURE_STATS, demo.on_stats)
    sink = None
    if args.alerts:
        sink = JsonLinesSink(args.alerts.open("w", encoding="utf-8"))
        for topic in (topics.DRIFT_ALERTS, topics.DEGRADATION_ALERTS):
            engine.bus.subscribe(topic, sink)
    if not console.is_terminal:  # piped or in CI: print alerts as they fire
        for topic in (topics.DRIFT_ALERTS, topics.DEGRADATION_ALERTS):
            engine.bus.subscribe(topic, print_alerts)
    try:
        if console.is_terminal:
            with Live(demo.view(), console=console, refresh_per_second=4) as live:
                _drive(demo, args.rate, lambda: live.update(demo.view()))
        else:
            _drive(demo, args.rate, lambda: None)
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    finally:
        if sink is not None:
            sink.stream.close()
    firing = sum(a.status == AlertStatus.FIRING for a in demo.all_alerts)
    print(
        f"driftline demo: {demo.sent:,} events, {len(demo.all_alerts)} alerts "
        f"({firing} firing, {len(demo.all_alerts) - firing} resolved)"
    )
    return 0


def _drive(demo: Demo, rate: float, refresh: Callable[[], None]) -> None:
    """Send rounds of events from every service until the total is reached.

    Events travel as JSON, as from a broker; each service's labels are released once
    the event time of its predictions passes theirs.
    """
    predictions: Validator[WirePrediction] = Validator("predictions")
    labels: Validator[WireLabel] = Validator("labels")
    waiting: dict[str, deque[WireLabel]] = {model.name: deque() for model in demo.models}
    bus = demo.engine.bus
    encode = msgspec.json.encode
    while demo.sent < demo.total:
        for model in demo.models:
            n = min(CHUNK, demo.total - demo.sent)
            if n <= 0:
                break
            events, truths = model.generate(n)
            batch, _ = predictions.decode_many([encode(e) for e in events], ["demo"] * n)
            bus.publish(topics.PREDICTIONS, batch)
            demo.sent += n
            queue = waiting[model.name]
            queue.extend(labels.decode_many([encode(t) for t in truths], ["demo"] * n)[0])
            horizon = event_seconds(batch[-1].ts)
            due = []
            while queue and event_seconds(queue[0].ts) <= horizon:
                due.append(queue.popleft())
            bus.publish(topics.LABELS, due)
        refresh()
        if rate > 0:
            time.sleep(CHUNK * len(demo.models) / rate)
    refresh()
