"""Hostile cardinality in the embedded engine: 200,000 distinct model names, versions,
feature names, categories or metric names must not grow what a monitor holds or its
checkpoints; what the caps of ``limits`` refuse is dead-lettered and counted, what they
fold or leave out is counted in the window summaries, and held models go on as before."""

from collections.abc import Iterator
from typing import Any

import msgspec
import numpy as np

from monitor.core import Monitor, Output
from monitor.kafka.state import MemoryTable, Message, TableState
from monitor.reference.build import ProfileBuilder
from monitor.reference.profile import ReferenceSet
from monitor.settings import MonitorSettings, WindowSettings
from schemas.stats import FeatureStats
from schemas.wire import WireLabel, WireMetric, WirePrediction

DISTINCT = 200_000
BATCH = 1000
LIMITS = {"max_models": 20, "max_versions": 5, "max_features": 10, "max_metrics": 3}
SETTINGS = MonitorSettings(
    window={"size": 1000, "hop": 500},
    reference={"warmup_events": 100, "max_categories": 8},
    limits=LIMITS,
)
GOOD = ("good-a", "good-b")  # held first, sent all along the stream


def hostile_names(prefix: str, seed: int = 9) -> list[str]:
    """``DISTINCT`` distinct names in a seeded random order."""
    order = np.random.default_rng(seed).permutation(DISTINCT)
    return [f"{prefix}-{k:06d}" for k in order.tolist()]


def event(i: int, model: str = "m", version: str = "1", **extra: Any) -> WirePrediction:
    features: dict[str, Any] = {"x": float(i % 13), "c": "abc"[i % 3]}
    features.update(extra)
    return WirePrediction(
        f"{model}-{i}", model, float(i), features, version, prediction=(i % 10) / 10
    )


def good_events(start: int) -> list[WirePrediction]:
    return [event(max(start, 0) + k, GOOD[k % 2]) for k in range(2 * BATCH // 10)]


def batches(events: Iterator[WirePrediction]) -> Iterator[list[WirePrediction]]:
    batch: list[WirePrediction] = []
    for e in events:
        batch.append(e)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def run(monitor: Monitor, hostile: Iterator[WirePrediction]) -> tuple[Output, int]:
    """Feed the hostile events, with a few events of the good models in every batch;
    keep the window summaries and the first dead letter, count the dead letters."""
    kept, dead = Output(), 0
    monitor.process_predictions(good_events(-10 * BATCH))  # the good models come first
    for n, batch in enumerate(batches(hostile)):
        out = monitor.process_predictions(good_events(n * BATCH) + batch)
        dead += len(out.dead)
        kept.windows += out.windows
        kept.dead += out.dead[:1] if not kept.dead else []
    return kept, dead


def checkpoint_bytes(monitor: Monitor) -> int:
    models = {model for model, _ in monitor.models} | {k[0] for k in monitor.metric_trackers}
    return sum(len(msgspec.json.encode(monitor.export_model(m))) for m in models)


def last_stats(out: Output, model: str, version: str = "1") -> FeatureStats:
    return [s for s in out.stats if (s.model, s.model_version) == (model, version)][-1]


def test_distinct_models_past_the_cap_are_dead_lettered() -> None:
    monitor = Monitor(SETTINGS)
    names = hostile_names("model")
    out, dead = run(monitor, (event(i, name) for i, name in enumerate(names)))

    held = {model for model, _ in monitor.models}
    assert len(held) == 20
    assert set(GOOD) <= held
    assert held - set(GOOD) == set(names[:18])  # first come, first held
    assert dead == DISTINCT - 18
    assert monitor.counters.refused == {"predictions.model_limit": DISTINCT - 18}
    letter = out.dead[0]
    assert letter.source == "driftline.predictions"
    assert letter.reason == (
        f"model_limit: {names[18]!r} would be model 21 of this process, over limits.max_models (20)"
    )
    assert msgspec.json.decode(letter.payload)["model"] == names[18]
    # the held models go on: every good event applied, windows to the end of the stream
    assert monitor.counters.predictions == 2 * BATCH // 10 * (DISTINCT // BATCH + 1) + 18
    assert last_stats(out, "good-a").window.end.timestamp() > DISTINCT - BATCH
    assert len(monitor.join) <= SETTINGS.performance.max_pending
    assert checkpoint_bytes(monitor) < 250_000  # 134 kB: 20 models, 18 of one event


def test_distinct_versions_past_the_cap_are_dead_lettered_and_counted_per_model() -> None:
    monitor = Monitor(SETTINGS)
    names = hostile_names("v")
    steady = (event(i, "m", "1") for i in range(DISTINCT))
    hostile = (event(i, "m", name) for i, name in enumerate(names))
    out, dead = run(monitor, (e for pair in zip(steady, hostile, strict=True) for e in pair))

    assert sorted(v for m, v in monitor.models if m == "m") == sorted(["1", *names[:4]])
    assert dead == DISTINCT - 4
    assert out.dead[0].reason == (
        f"version_limit: 'm' version {names[4]!r} would be its version 6, over "
        "limits.max_versions (5)"
    )
    stats = last_stats(out, "m")
    assert stats.window.end.timestamp() > DISTINCT - BATCH  # the held version goes on
    assert DISTINCT - 4 - BATCH < stats.limits.versions_refused <= DISTINCT - 4
    assert last_stats(out, "good-a").limits.versions_refused == 0
    assert checkpoint_bytes(monitor) < 80_000  # 38 kB: 3 models, 7 versions


def test_feature_names_past_the_cap_are_left_out_and_counted() -> None:
    monitor = Monitor(SETTINGS)
    names = hostile_names("feature")
    out, dead = run(monitor, (event(i, **{name: 1.0}) for i, name in enumerate(names)))

    assert dead == 0
    layout = monitor.models[("m", "1")].profile.features.layout  # type: ignore[union-attr]
    assert len(layout.names) == 10  # x, c and the first 8 names of its first events
    assert {"x", "c"} <= set(layout.names)
    stats = last_stats(out, "m")
    assert stats.limits.features_ignored == 1000  # one per event of the window
    assert set(stats.columns) == set(layout.names) | {"prediction"}
    assert last_stats(out, "good-a").limits.features_ignored == 0
    assert checkpoint_bytes(monitor) < 30_000  # 11-12 kB: 3 models


def test_feature_names_outside_a_given_reference_are_counted() -> None:
    builder = ProfileBuilder("m", "1", SETTINGS.reference)
    for i in range(500):
        builder.add(event(i).features, 0.5)
    settings = SETTINGS.model_copy(update={"window": WindowSettings(size=200, hop=100)})
    monitor = Monitor(settings, ReferenceSet([builder.build()]))
    # renamed (x -> x2: same row length) or added names, with and without absent columns
    rows = [{"x2": 1.0, "c": "a"}, {"x": 1.0, "c": "a", "y": 2.0, "z": 3.0}, {"q": 1.0}] * 100
    events = [WirePrediction(f"e{i}", "m", float(i), f) for i, f in enumerate(rows)]
    out = monitor.process_predictions(events[:150])
    out += monitor.process_predictions(events[150:])

    def outside(start: int, stop: int) -> int:
        return sum(len(row.keys() - {"x", "c"}) for row in rows[start:stop])

    assert [s.limits.features_ignored for s in out.stats] == [outside(0, 200), outside(100, 300)]


def test_categories_past_the_reference_fold_into_other() -> None:
    monitor = Monitor(SETTINGS)
    names = hostile_names("category")
    out, _ = run(monitor, (event(i, c=name) for i, name in enumerate(names)))

    profile = monitor.models[("m", "1")].profile
    assert profile is not None
    assert max(map(len, profile.features.layout.categorical.categories)) <= 8
    column = last_stats(out, "m").columns["c"]
    assert column.other == column.values == 1000  # every value new: all in "other"
    assert last_stats(out, "good-a").columns["c"].other == 0
    assert checkpoint_bytes(monitor) < 30_000  # 11-12 kB: 3 models


def test_metric_names_past_the_cap_are_dead_lettered() -> None:
    monitor = Monitor(SETTINGS)
    dead = 0
    names = hostile_names("metric")
    for start in range(0, DISTINCT, BATCH):
        metrics = [WireMetric("m", float(start), "latency", 1.0)] + [
            WireMetric("m", float(i), names[i], 1.0) for i in range(start, start + BATCH)
        ]
        dead += len(monitor.process_metrics(metrics).dead)
    assert sorted(name for _, _, name in monitor.metric_trackers) == sorted([*names[:2], "latency"])
    assert dead == DISTINCT - 2
    assert monitor.counters.refused == {"metrics.metric_limit": DISTINCT - 2}
    assert monitor.counters.metrics == 2 + DISTINCT // BATCH
    assert monitor.limits.to_dict("m") == {"versions_refused": 0, "metrics_refused": DISTINCT - 2}
    assert checkpoint_bytes(monitor) < 2_000  # 0.8 kB: 3 metric trackers


def test_labels_of_models_that_cannot_be_held_are_dead_lettered() -> None:
    monitor = Monitor(MonitorSettings(limits={"max_models": 1}))
    monitor.process_predictions([event(1, "held"), event(2, "held")])
    labels = [WireLabel("held-1", "held", 1.0, 0.5), WireLabel("x", "other", 1.0, 1.0)]
    out = monitor.process_labels(labels, sources=["l/0@3", "l/0@4"])
    assert [(d.source, d.reason.partition(":")[0]) for d in out.dead] == [("l/0@4", "model_limit")]
    assert monitor.counters.labels == 1
    assert monitor.join.get("held-2", "held") is not None  # the other prediction still waits
    # with room for the model, an unmatched label is no refusal (it may be early)
    roomy = Monitor(MonitorSettings(limits={"max_models": 2}))
    roomy.process_predictions([event(1, "held")])
    assert roomy.process_labels(labels).dead == []


def test_labels_held_early_count_against_the_model_cap() -> None:
    """200,000 labels of distinct models, none with a prediction: at most max_models
    models hold early labels; the others' labels are dead letters, not memory."""
    monitor = Monitor(MonitorSettings(limits={"max_models": 3}))
    labels = [WireLabel(f"e{i}", f"model-{i}", float(i), 1.0) for i in range(200_000)]
    out = monitor.process_labels(labels)
    assert len(monitor.early) == 3
    assert len(out.dead) == 200_000 - 3
    assert all(d.reason.startswith("model_limit: labels of") for d in out.dead)
    assert monitor.process_predictions([event(0, "model-0")]).dead == []  # held: room left


def test_a_checkpoint_keeps_the_refusal_counts_and_holds_past_the_cap() -> None:
    monitor = Monitor(MonitorSettings(limits={"max_models": 1, "max_versions": 1}))
    monitor.process_predictions([event(1, "a"), event(2, "a", "2")])
    saved = monitor.export_model("a")
    assert saved["limits"] == {"versions_refused": 1, "metrics_refused": 0}

    successor = Monitor(MonitorSettings(limits={"max_models": 1, "max_versions": 1}))
    successor.process_predictions([event(3, "b")])  # its one model, before the takeover
    successor.import_model("a", saved)
    assert successor.limits.holds("a")
    assert successor.limits.holds("b")
    assert successor.process_predictions([event(4, "a")]).dead == []
    assert successor.export_model("a")["limits"] == saved["limits"]
    del saved["limits"]  # a checkpoint from before the limits
    Monitor(SETTINGS).import_model("a", saved)


def test_the_kafka_state_keeps_nothing_of_refused_models() -> None:
    table = MemoryTable()
    state = TableState(Monitor(MonitorSettings(limits={"max_models": 2})), table)
    messages = [
        Message("p/0", 0, offset, [event(offset, f"model-{offset}")]) for offset in range(1000)
    ]
    out = state.process("predictions", messages)
    assert [d.source for d in out.dead] == [f"p/0@{offset}" for offset in range(2, 1000)]
    assert set(state.offsets) == {"model-0", "model-1"}
    assert {key.split(b"\x1f")[0] for key in table.data} == {b"model-0", b"model-1"}
    labels = [
        Message("l/0", 0, 5, [WireLabel(f"x{i}", f"label-only-{i}", 1.0, 1.0)]) for i in range(9)
    ]
    state.process("labels", labels)  # no room for their models: refused, not kept
    assert set(state.offsets) == {"model-0", "model-1"}
