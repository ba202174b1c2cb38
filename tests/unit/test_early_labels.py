"""Labels that come before their prediction: held (bounded, counted), joined when it comes.

The reference run gives every model's predictions first and its labels after; a label
that overtakes its prediction must give the same performance windows and alerts.
"""

import logging
import random
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.core import Monitor, Output
from monitor.kafka.join_log import JoinLog
from monitor.kafka.state import CHECKPOINT_PART_BYTES, MemoryTable, Message, TableState
from monitor.performance.early import EarlyLabels
from monitor.reference.profile import ReferenceSet
from monitor.settings import MonitorSettings
from producers.synthetic import Drift, SyntheticModel, interleave
from schemas.alerts import Alert
from schemas.wire import WireLabel, WirePrediction

PROPERTY = settings(max_examples=12, derandomize=True, deadline=None, database=None)
SETTINGS = MonitorSettings(
    window={"size": 1000, "hop": 250},
    reference={"warmup_events": 1000},
    performance={"window": 200, "hop": 100, "baseline_events": 300},
)


def _stream() -> tuple[list[WirePrediction], list[WireLabel]]:
    """Two models' predictions and labels (60 s late); "drifting" loses accuracy."""
    models = [
        SyntheticModel(
            "drifting", seed=1, label_delay=60.0, drifts=[Drift("accuracy_drop", 1200, (), 0.3)]
        ),
        SyntheticModel("steady", seed=2, label_delay=60.0),
    ]
    generated = [model.generate(2500) for model in models]
    predictions = [msgspec.convert(e, WirePrediction) for e in interleave(g[0] for g in generated)]
    labels = [msgspec.convert(e, WireLabel) for e in interleave(g[1] for g in generated)]
    return predictions, labels


PREDICTIONS, LABELS = _stream()


def _label(event_id: str, ts: float, model: str = "m", value: bool = True) -> WireLabel:
    return WireLabel(event_id, model, ts, value)


def _prediction(event_id: str, ts: float, model: str = "m") -> WirePrediction:
    return WirePrediction(event_id, model, ts, {"x": 1.0}, prediction=0.9)


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _run(monitor: Monitor, steps: list[tuple[str, list[Any]]]) -> list[Alert]:
    alerts: list[Alert] = []
    for kind, events in steps:
        out = (
            monitor.process_predictions(events)
            if kind == "predictions"
            else monitor.process_labels(events)
        )
        alerts += out.alerts
    return alerts


def _performance(monitor: Monitor) -> dict[str, Any]:
    """What labels built: performance trackers and alert episodes, per model."""
    return {
        model: (monitor.export_model(model)["performance"], monitor.export_model(model)["episodes"])
        for model in ("drifting", "steady")
    }


def _labels_after() -> tuple[Monitor, list[Alert]]:
    monitor = Monitor(SETTINGS, ReferenceSet([]))
    steps = [("predictions", b) for b in _chunks(PREDICTIONS, 500)]
    steps += [("labels", b) for b in _chunks(LABELS, 500)]
    return monitor, _run(monitor, steps)


EXPECTED_MONITOR, EXPECTED = _labels_after()


def _degradations(alerts: list[Alert]) -> list[str]:
    return [a.model_dump_json() for a in alerts if a.kind == "performance_degradation"]


# -- the core ---------------------------------------------------------------------------------


def test_labels_before_their_predictions_give_the_alerts_of_labels_after() -> None:
    assert _degradations(EXPECTED)  # the reference run does raise degradation alerts
    monitor = Monitor(SETTINGS, ReferenceSet([]))
    steps = [("labels", b) for b in _chunks(LABELS, 500)]
    steps += [("predictions", b) for b in _chunks(PREDICTIONS, 500)]
    alerts = _run(monitor, steps)
    assert _degradations(alerts) == _degradations(EXPECTED)
    assert sorted(a.alert_id for a in alerts) == sorted(a.alert_id for a in EXPECTED)
    assert _performance(monitor) == _performance(EXPECTED_MONITOR)
    for model in ("drifting", "steady"):
        joined = monitor.label_join(model)
        assert (joined.labels_matched, joined.labels_held) == (2500, 0)
        assert joined == EXPECTED_MONITOR.label_join(model)


@PROPERTY
@given(seed=st.integers(0, 2**32))
def test_batches_cut_and_interleaved_at_random_give_the_same_result(seed: int) -> None:
    """Predictions and labels each in order, cut anywhere and merged in any order."""
    rng = random.Random(seed)
    predictions, labels = list(PREDICTIONS), list(LABELS)
    steps: list[tuple[str, list[Any]]] = []
    while predictions or labels:
        kind = rng.choice([k for k, rest in (("p", predictions), ("l", labels)) if rest])
        rest = predictions if kind == "p" else labels
        size = rng.randint(1, 700)
        steps.append(("predictions" if kind == "p" else "labels", rest[:size]))
        del rest[:size]
    monitor = Monitor(SETTINGS, ReferenceSet([]))
    alerts = _run(monitor, steps)
    assert _degradations(alerts) == _degradations(EXPECTED)
    assert sorted(a.alert_id for a in alerts) == sorted(a.alert_id for a in EXPECTED)
    assert _performance(monitor) == _performance(EXPECTED_MONITOR)
    assert monitor.label_joins() == EXPECTED_MONITOR.label_joins()


def test_held_labels_expire_on_the_models_event_time_and_are_counted() -> None:
    settings = MonitorSettings(performance={"early_label_ttl": 100.0})
    monitor = Monitor(settings)
    monitor.process_labels([_label("a", 50.0), _label("b", 500.0), _label("c", 10.0, "n")])
    assert monitor.label_join("m").labels_held == 2
    monitor.process_predictions([_prediction("x", 150.0)])  # "a" is exactly at the horizon
    assert (monitor.label_join("m").labels_held, monitor.label_join("m").labels_expired) == (2, 0)
    monitor.process_predictions([_prediction("y", 150.5)])
    assert (monitor.label_join("m").labels_held, monitor.label_join("m").labels_expired) == (1, 1)
    assert monitor.label_join("n").labels_held == 1  # another model's time does not count
    monitor.process_predictions([_prediction("b", 400.0)])  # "b"'s prediction, at last
    assert monitor.label_join("m").model_dump() == {
        "labels_matched": 1,
        "labels_held": 0,
        "labels_expired": 1,
        "labels_evicted": 0,
        "predictions_expired": 0,
        "predictions_evicted": 0,
    }


def test_the_cap_evicts_the_oldest_held_labels_and_counts_them() -> None:
    monitor = Monitor(MonitorSettings(performance={"max_early_labels": 3}))
    monitor.process_labels([_label(f"e{i}", float(i)) for i in range(5)])
    monitor.process_labels([_label("e4", 9.0)])  # a second label for a held prediction
    joined = monitor.label_join("m")
    assert (joined.labels_held, joined.labels_evicted, joined.labels_expired) == (3, 2, 1)
    monitor.process_predictions([_prediction(f"e{i}", float(i)) for i in range(5)])
    joined = monitor.label_join("m")
    assert (joined.labels_matched, joined.labels_held) == (3, 0)
    assert joined.predictions_expired == joined.predictions_evicted == 0
    assert len(monitor.join) == 2  # e0 and e1 wait for labels that were evicted


def test_no_labels_are_held_with_a_cap_of_zero() -> None:
    monitor = Monitor(MonitorSettings(performance={"max_early_labels": 0}))
    monitor.process_labels([_label("a", 0.0), _label("b", 1.0)])
    monitor.process_predictions([_prediction("a", 0.0)])
    joined = monitor.label_join("m")
    assert (joined.labels_matched, joined.labels_held, joined.labels_evicted) == (0, 0, 2)


def test_predictions_dropped_unlabelled_are_counted_per_model() -> None:
    monitor = Monitor(MonitorSettings(performance={"max_pending": 2, "label_ttl": 100.0}))
    sent = [("a", 0.0, "m"), ("b", 1.0, "n"), ("c", 2.0, "n")]
    monitor.process_predictions([_prediction(i, t, m) for i, t, m in sent])
    assert monitor.label_join("m").predictions_evicted == 1  # "a" left at the cap
    monitor.process_labels([_label("c", 60.0, "n")])
    monitor.process_predictions([_prediction("d", 101.5, "n")])  # "b" expires
    assert monitor.label_join("m").predictions_evicted == 1
    assert monitor.label_join("n").predictions_expired == 1
    assert set(monitor.label_joins()) == {"m", "n"}


def test_window_summaries_carry_the_models_label_join() -> None:
    monitor = Monitor(SETTINGS, ReferenceSet([]))
    monitor.process_labels(LABELS[:100])
    out = monitor.process_predictions(PREDICTIONS)
    assert out.stats
    for stats in out.stats:
        assert stats.label_join == monitor.label_join(stats.model)
    held = {s.model: s.label_join.labels_held for s in out.stats if s.label_join}
    matched = {s.model: s.label_join.labels_matched for s in out.stats if s.label_join}
    assert sum(matched.values()) == 100
    assert sum(held.values()) == 0


# -- checkpoints ------------------------------------------------------------------------------


def _roundtrip(monitor: Monitor, model: str) -> Monitor:
    successor = Monitor(monitor.settings, monitor.references)
    state = msgspec.json.decode(msgspec.json.encode(monitor.export_model(model)))
    successor.import_model(model, state)
    return successor


def test_held_labels_and_counts_survive_export_and_import() -> None:
    settings = MonitorSettings(performance={"max_early_labels": 2, "max_pending": 1})
    monitor = Monitor(settings)
    monitor.process_predictions([_prediction("old", 0.0), _prediction("older", 0.0, "n")])
    monitor.process_labels([_label("a", 1.0), _label("b", 2.0, value=False), _label("c", 3.0)])
    successor = _roundtrip(monitor, "m")
    assert successor.export_model("m") == monitor.export_model("m")
    assert successor.label_join("m") == monitor.label_join("m")
    assert successor.label_join("m").labels_evicted == 1
    assert successor.label_join("m").predictions_evicted == 1
    assert successor.label_join("n").predictions_evicted == 0  # only "m" was imported
    for later in ([_prediction("c", 3.0)], [_prediction("b", 2.0)]):
        assert monitor.process_predictions(later) == successor.process_predictions(later)
    assert successor.export_model("m") == monitor.export_model("m")
    assert successor.label_join("m").labels_matched == 2


def test_a_checkpoint_of_an_older_version_has_no_labels_and_still_loads() -> None:
    monitor = Monitor(SETTINGS)
    monitor.process_labels([_label("a", 1.0)])
    state = monitor.export_model("m")
    del state["labels"]
    successor = Monitor(SETTINGS)
    successor.import_model("m", state)
    assert successor.label_join("m").labels_held == 0


def test_a_model_with_a_full_buffer_keeps_a_small_checkpoint() -> None:
    cap = MonitorSettings().performance.max_early_labels
    monitor = Monitor(MonitorSettings())
    labels = [_label(f"{i:032x}", 1.8e9 + i) for i in range(cap + 10)]
    monitor.process_labels(labels)
    size = len(msgspec.json.encode(monitor.export_model("m")))
    assert monitor.label_join("m").labels_held == cap
    assert size < 60 * cap < CHECKPOINT_PART_BYTES  # one part, with 32-character event ids


@pytest.mark.parametrize(("crash", "redelivered"), [(3, 1), (9, 2), (14, 0)])
def test_a_successor_worker_joins_the_labels_its_predecessor_held(
    crash: int, redelivered: int
) -> None:
    """Labels first, then predictions, as Kafka messages; a crash in between."""
    stream: list[tuple[str, list[Message]]] = []
    for kind, events in (("labels", LABELS), ("predictions", PREDICTIONS)):
        for offset, chunk in enumerate(_chunks(events, 250)):
            stream.append((kind, [Message(f"{kind}/0", 0, offset, chunk)]))
    table = MemoryTable()
    first = TableState(Monitor(SETTINGS, ReferenceSet([])), table)
    alerts = [a for kind, m in stream[:crash] for a in first.process(kind, m).alerts]  # type: ignore[arg-type]
    second = TableState(Monitor(SETTINGS, ReferenceSet([])), table)
    for kind, messages in stream[crash - redelivered :]:
        alerts += second.process(kind, messages).alerts  # type: ignore[arg-type]
    assert _degradations(alerts) == _degradations(EXPECTED)
    assert _performance(second.monitor) == _performance(EXPECTED_MONITOR)
    assert second.monitor.label_joins() == EXPECTED_MONITOR.label_joins()


# -- the buffer alone -------------------------------------------------------------------------


def test_take_gives_labels_back_in_arrival_order_once() -> None:
    early = EarlyLabels(ttl=10.0, max_labels=10)
    early.hold([_label("b", 2.0), _label("a", 1.0), _label("c", 3.0)], [2.0, 1.0, 3.0])
    assert [(x.event_id, t) for x, t in early.take(["c", "a", "z"])] == [("a", 1.0), ("c", 3.0)]
    assert [(x.event_id, t) for x, t in early.take(["b"])] == [("b", 2.0)]
    assert early.take(["a", "b", "c"]) == []
    assert len(early) == 0


@pytest.mark.parametrize(("ttl", "cap"), [(0.0, 1), (1.0, -1)])
def test_bad_bounds_are_refused(ttl: float, cap: int) -> None:
    with pytest.raises(ValueError, match=r"ttl|max_labels"):
        EarlyLabels(ttl=ttl, max_labels=cap)


def test_output_is_unchanged_for_a_batch_without_held_labels() -> None:
    monitor = Monitor(SETTINGS, ReferenceSet([]))
    out = monitor.process_predictions(PREDICTIONS[:10])
    assert out == Output()
    assert monitor.early == {}


# -- the worker's log -------------------------------------------------------------------------


def test_the_join_log_names_each_model_that_lost_labels_at_most_every_period(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    log = JoinLog(logging.getLogger("test.join"), every=10.0, clock=lambda: now[0])
    monitor = Monitor(MonitorSettings(performance={"max_early_labels": 1, "max_pending": 1}))
    monitor.process_predictions([_prediction(i, 0.0, "unlabelled") for i in ("p", "q")])
    assert monitor.label_join("unlabelled").predictions_evicted == 1  # no label: not logged
    with caplog.at_level(logging.WARNING, logger="test.join"):
        monitor.process_labels([_label("a", 0.0), _label("b", 1.0)])  # "a" is evicted
        log.update(monitor)
        monitor.process_labels([_label("c", 2.0)])  # "b" is evicted
        now[0] = 5.0
        log.update(monitor)  # too soon
        now[0] = 10.0
        log.update(monitor)
        log.update(monitor)  # nothing new
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "label join of model m: labels 0 matched, 1 held, 1 unmatched (0 expired, 1 evicted); "
        "predictions unlabelled 0 expired, 0 evicted",
        "label join of model m: labels 0 matched, 1 held, 2 unmatched (0 expired, 2 evicted); "
        "predictions unlabelled 0 expired, 0 evicted",
    ]
    assert all(r.levelno == logging.WARNING for r in caplog.records)
