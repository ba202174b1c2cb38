"""Seeded synthetic streams with known drift onsets, replayed end to end.

A run writes each model's events and labels as .jsonl files, as a service would have
recorded them, builds every model's reference from a clean draw of the same model
(``stream=1``), replays through the embedded engine and returns the alerts.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import msgspec

from monitor.core import Monitor
from monitor.engine.embedded import EmbeddedEngine
from monitor.engine.replay import replay
from monitor.reference.build import ProfileBuilder
from monitor.reference.profile import ReferenceSet
from monitor.settings import MonitorSettings
from producers.synthetic import START, Drift, SyntheticModel, interleave
from schemas import topics
from schemas.alerts import Alert, AlertKind, AlertStatus

REFERENCE_EVENTS = 20_000
RATE = 10.0
"""Events per second per model (event time)."""


@dataclass(frozen=True)
class Run:
    """The alerts of one replay and how to read them."""

    alerts: list[Alert]
    onset: int

    def firing(self, model: str) -> list[Alert]:
        """Firing alerts of ``model``, in order."""
        return [a for a in self.alerts if a.model == model and a.status == AlertStatus.FIRING]

    @staticmethod
    def index(alert: Alert) -> int:
        """Index, in its model's stream, of the last event of the window that fired."""
        return round((alert.window.end.timestamp() - START) * RATE)

    def delay(self, model: str, kind: AlertKind, subject: str) -> int | None:
        """Events of ``model`` from the onset to the first firing alert on ``subject``."""
        for alert in self.firing(model):
            if alert.kind == kind and alert.subject == subject:
                return self.index(alert) - self.onset
        return None


def run(
    tmp: Path,
    drifts: Sequence[Drift] = (),
    events: int = 20_000,
    models: int = 3,
    seed: int = 0,
    settings: MonitorSettings | None = None,
    label_delay: float = 600.0,
) -> Run:
    """Replay ``models`` interleaved models of ``events`` events; the first has ``drifts``."""
    settings = settings or MonitorSettings()
    services = [
        SyntheticModel(
            f"model-{k}",
            seed=seed + k,
            rate=RATE,
            label_delay=label_delay,
            drifts=drifts if k == 0 else (),
        )
        for k in range(models)
    ]
    profiles = []
    for service in services:
        twin = SyntheticModel(service.name, seed=service.seed, stream=1, rate=RATE)
        builder = ProfileBuilder(service.name, service.version, settings.reference)
        predictions, labels = twin.generate(REFERENCE_EVENTS)
        for event, label in zip(predictions, labels, strict=True):
            builder.add(event["features"], event["prediction"], label["label"])
        profiles.append(builder.build())
    generated = [service.generate(events) for service in services]
    encoder = msgspec.json.Encoder()
    events_path, labels_path = tmp / "events.jsonl", tmp / "labels.jsonl"
    with events_path.open("wb") as out:
        for event in interleave(e for e, _ in generated):
            out.write(encoder.encode(event) + b"\n")
    with labels_path.open("wb") as out:
        for label in interleave(lab for _, lab in generated):
            out.write(encoder.encode(label) + b"\n")
    engine = EmbeddedEngine(Monitor(settings, ReferenceSet(profiles)))
    alerts: list[Alert] = []
    for topic in (topics.DRIFT_ALERTS, topics.DEGRADATION_ALERTS):
        engine.bus.subscribe(topic, alerts.extend)
    replay(engine, events_path, labels_path)
    onset = min((d.onset for d in drifts), default=0)
    return Run(alerts, onset)
