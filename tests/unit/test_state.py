"""A monitor's drift state survives a JSON round trip: a successor that loads it raises
exactly the alerts the first monitor would have raised (what a Faust table restored
from its changelog must give)."""

import json

import msgspec
import pytest

from monitor.core import Monitor
from monitor.model_monitor import ModelMonitor
from monitor.reference.build import ProfileBuilder
from monitor.reference.profile import ReferenceSet
from monitor.settings import MonitorSettings
from producers.synthetic import Drift, SyntheticModel, interleave
from schemas.alerts import Alert
from schemas.wire import WireMetric, WirePrediction

SETTINGS = MonitorSettings(
    window={"size": 1000, "hop": 250},
    reference={"warmup_events": 1000},
    performance={"window": 200, "hop": 100, "baseline_events": 300, "detector": "none"},
)


def stream() -> list[WirePrediction]:
    drifting = SyntheticModel(
        "drifting",
        seed=1,
        drifts=[
            Drift("mean_shift", 2500, ("num_00",), 1.0),
            Drift("new_category", 3000, ("cat_1",), 0.3),
            Drift("accuracy_drop", 1500, (), 0.3),
        ],
    )
    stationary = SyntheticModel("stationary", seed=2)
    streams = []
    for model in (drifting, stationary):
        events, labels = model.generate(5000)
        for event, label in zip(events, labels, strict=True):
            event["label"] = label["label"]  # known at prediction time: no join needed
        streams.append(events)
    return [msgspec.convert(e, WirePrediction) for e in interleave(streams)]


def references() -> ReferenceSet:
    builder = ProfileBuilder("drifting", "1", SETTINGS.reference)
    for event in SyntheticModel("drifting", seed=1, stream=1).generate(3000)[0]:
        builder.add(event["features"], event["prediction"])
    return ReferenceSet([builder.build()])  # "stationary" warms up on its own events


def run(monitor: Monitor, events: list[WirePrediction]) -> list[Alert]:
    alerts = []
    for start in range(0, len(events), 700):
        alerts += monitor.process_predictions(events[start : start + 700]).alerts
    return alerts


@pytest.mark.parametrize("cut", [700, 1234, 3500, 6300])
def test_a_restored_monitor_raises_the_same_alerts(cut: int) -> None:
    events, refs = stream(), references()
    expected = run(Monitor(SETTINGS, refs), events)
    assert {a.model for a in expected} == {"drifting"}
    assert {a.kind for a in expected} >= {"feature_drift", "performance_degradation"}

    first = Monitor(SETTINGS, refs)
    before = run(first, events[:cut])
    saved = json.loads(json.dumps({m: first.export_model(m) for m in ("drifting", "stationary")}))
    second = Monitor(SETTINGS, refs)
    for model, state in saved.items():
        second.import_model(model, state)
    after = run(second, events[cut:])
    assert [a.alert_id for a in before + after] == [a.alert_id for a in expected]


def test_a_changed_reference_is_refused() -> None:
    refs = references()
    monitor = Monitor(SETTINGS, refs)
    run(monitor, stream()[:800])
    state = monitor.export_model("drifting")["monitors"][0]
    state["profile_id"] = "drifting/1/ref-00000000"
    with pytest.raises(ValueError, match="tested against drifting/1/ref-00000000"):
        ModelMonitor.from_dict(state, SETTINGS, refs)


def test_metric_trackers_are_restored() -> None:
    metrics = [
        WireMetric(
            model="drifting",
            ts=float(i),
            name="latency_ms",
            value=20.0 + i % 5 + (30.0 if i >= 120 else 0.0),
        )
        for i in range(200)
    ]
    expected = Monitor(SETTINGS).process_metrics(metrics).alerts
    assert [a.kind for a in expected] == ["metric_degradation"]
    first = Monitor(SETTINGS)
    before = first.process_metrics(metrics[:110]).alerts
    second = Monitor(SETTINGS)
    second.import_model("drifting", json.loads(json.dumps(first.export_model("drifting"))))
    after = second.process_metrics(metrics[110:]).alerts
    assert [a.alert_id for a in before + after] == [a.alert_id for a in expected]
