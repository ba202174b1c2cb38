"""Window summaries (``FeatureStats``) cost nothing unless someone reads them.

A replay with nobody on the feature-stats topic builds none; a subscriber gets the same
summaries as ever, with the label join and limits counts as of the batch that closed
each window, however late they are read.
"""

from pathlib import Path
from typing import Any

import msgspec
import pytest

from monitor.core import Monitor, Output
from monitor.engine.embedded import EmbeddedEngine
from monitor.engine.replay import replay
from monitor.settings import MonitorSettings
from producers.synthetic import Drift, SyntheticModel, interleave
from schemas import topics
from schemas.stats import FeatureStats
from schemas.wire import WireLabel, WirePrediction

SETTINGS = MonitorSettings(
    window={"size": 400, "hop": 200},
    reference={"warmup_events": 400},
    limits={"max_versions": 1},
)


def _streams() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Two models, 2,000 events each, labels a minute late; one drifts; every 300th event
    of "a" is of a second version, refused by ``limits.max_versions``."""
    models = [
        SyntheticModel(
            "a", seed=1, label_delay=60.0, drifts=[Drift("mean_shift", 1000, ("num_00",), 1.0)]
        ),
        SyntheticModel("b", seed=2, label_delay=60.0),
    ]
    generated = [m.generate(2_000) for m in models]
    events = list(interleave(e for e, _ in generated))
    for event in events[300::300]:
        if event["model"] == "a":
            event["model_version"] = "2"
    return events, list(interleave(labels for _, labels in generated))


EVENTS, LABELS = _streams()


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[FeatureStats]:
    """Every FeatureStats built while the test runs."""
    made: list[FeatureStats] = []
    init = FeatureStats.__init__

    def counting(self: FeatureStats, **data: Any) -> None:
        init(self, **data)
        made.append(self)

    monkeypatch.setattr(FeatureStats, "__init__", counting)
    return made


def _replay(tmp_path: Path, subscribe: bool) -> tuple[EmbeddedEngine, list[FeatureStats]]:
    events, labels = tmp_path / "events.jsonl", tmp_path / "labels.jsonl"
    for path, items in ((events, EVENTS), (labels, LABELS)):
        path.write_bytes(b"".join(msgspec.json.encode(item) + b"\n" for item in items))
    engine = EmbeddedEngine(Monitor(SETTINGS))
    received: list[FeatureStats] = []
    engine.bus.subscribe(topics.DRIFT_ALERTS, lambda alerts: None)
    if subscribe:
        engine.bus.subscribe(topics.FEATURE_STATS, received.extend)
    replay(engine, events, labels)
    return engine, received


def _batches() -> list[tuple[str, list[Any]]]:
    """The replay's input as the core gets it in batches of 500, labels after."""
    steps: list[tuple[str, list[Any]]] = []
    for start in range(0, len(EVENTS), 500):
        steps.append(
            ("p", [msgspec.convert(e, WirePrediction) for e in EVENTS[start : start + 500]])
        )
        labels = LABELS[max(0, start - 250) : start + 250]
        steps.append(("l", [msgspec.convert(e, WireLabel) for e in labels]))
    return steps


def _feed(monitor: Monitor, step: tuple[str, list[Any]]) -> Output:
    kind, items = step
    return monitor.process_predictions(items) if kind == "p" else monitor.process_labels(items)


def test_a_replay_without_a_subscriber_builds_no_summary(
    tmp_path: Path, built: list[FeatureStats]
) -> None:
    engine, _ = _replay(tmp_path, subscribe=False)
    assert engine.monitor.counters.windows >= 10
    assert engine.bus.published[topics.DRIFT_ALERTS] > 0
    assert built == []


def test_a_subscriber_gets_one_summary_per_window_built_once(
    tmp_path: Path, built: list[FeatureStats]
) -> None:
    engine, received = _replay(tmp_path, subscribe=True)
    assert len(received) == engine.monitor.counters.windows >= 10
    assert [id(s) for s in built] == [id(s) for s in received]


def test_the_subscriber_gets_what_the_monitor_returns(tmp_path: Path) -> None:
    _, received = _replay(tmp_path, subscribe=True)
    monitor = Monitor(SETTINGS)
    direct = monitor.process_predictions([msgspec.convert(e, WirePrediction) for e in EVENTS])
    direct += monitor.process_labels([msgspec.convert(e, WireLabel) for e in LABELS])
    assert received == direct.stats


def test_summaries_read_late_are_those_read_at_once() -> None:
    at_once, kept = Monitor(SETTINGS), Monitor(SETTINGS)
    summaries, outputs = [], []
    for step in _batches():
        summaries += _feed(at_once, step).stats
        outputs.append(_feed(kept, step))  # read once every batch is in
    late = [s for out in outputs for s in out.stats]
    assert late == summaries
    # the counts moved between windows, so reading them late would have shown it
    assert len({s.label_join for s in late if s.model == "a"}) > 3
    assert len({s.limits.versions_refused for s in late if s.model == "a"}) > 2
    assert all(s.label_join is not None for s in late)
