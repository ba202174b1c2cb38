"""A Kafka worker's checkpoints (monitor/kafka/state.py), without a broker: the table is
a dict, messages are numbered like a topic partition's, and a "crash" is a new worker
that loads the table and is redelivered what it had not committed."""

from typing import Any

import msgspec
import pytest

from monitor.core import Monitor
from monitor.kafka.state import (
    CHECKPOINT_PART_BYTES,
    CHUNK_ROWS,
    MemoryTable,
    Message,
    TableState,
)
from monitor.reference.profile import ReferenceSet
from monitor.settings import MonitorSettings
from producers.synthetic import Drift, SyntheticModel
from schemas.alerts import Alert
from schemas.wire import WireLabel, WirePrediction, event_seconds

SETTINGS = MonitorSettings(
    window={"size": 1000, "hop": 250},
    reference={"warmup_events": 1000},
    performance={"window": 200, "hop": 100, "baseline_events": 300, "detector": "none"},
)
PARTITION = {"drifting": 0, "stationary": 1}

Batch = tuple[str, list[Message]]  # kind, messages


def batches(per_message: int = 40, per_batch: int = 5) -> list[Batch]:
    """Predictions and their labels (60 s late) as keyed messages, in event-time order."""
    timeline: list[tuple[float, str, Any]] = []
    models = [
        SyntheticModel(
            "drifting", seed=1, label_delay=60.0, drifts=[Drift("accuracy_drop", 1500, (), 0.3)]
        ),
        SyntheticModel("stationary", seed=2, label_delay=60.0),
    ]
    for model in models:
        events, labels = model.generate(4000)
        for start in range(0, len(events), per_message):
            chunk = [
                msgspec.convert(e, WirePrediction) for e in events[start : start + per_message]
            ]
            timeline.append((event_seconds(chunk[0].ts), "predictions", chunk))
            marks = [msgspec.convert(x, WireLabel) for x in labels[start : start + per_message]]
            timeline.append((event_seconds(marks[0].ts), "labels", marks))
    timeline.sort(key=lambda item: item[0])
    offsets: dict[str, int] = {}
    out: list[Batch] = []
    for _, kind, events in timeline:
        partition = PARTITION[events[0].model]
        source = f"driftline.{kind}/{partition}"
        offsets[source] = offset = offsets.get(source, -1) + 1
        message = Message(source, partition, offset, events)
        if out and out[-1][0] == kind and len(out[-1][1]) < per_batch:
            out[-1][1].append(message)
        else:
            out.append((kind, [message]))
    return out


def run(state: TableState, stream: list[Batch]) -> list[Alert]:
    alerts = []
    for kind, messages in stream:
        alerts += state.process(kind, messages).alerts  # type: ignore[arg-type]
    return alerts


def worker(table: MemoryTable, settings: MonitorSettings = SETTINGS) -> TableState:
    return TableState(Monitor(settings, ReferenceSet([])), table)


def join_rows(table: MemoryTable) -> int:
    chunks = [v for k, v in table.data.items() if b"\x1fjoin\x1f" in k]
    return sum(len(msgspec.json.decode(v)) for v in chunks)


@pytest.mark.parametrize(("crash", "redelivered"), [(30, 0), (61, 7), (95, 20), (140, 3)])
def test_a_successor_raises_the_same_alerts_and_counts_nothing_twice(
    crash: int, redelivered: int
) -> None:
    stream = batches()
    once = worker(MemoryTable())
    expected = run(once, stream)
    assert "performance_degradation" in {a.kind for a in expected}  # labels were joined

    table = MemoryTable()
    first = worker(table)
    before = run(first, stream[:crash])
    second = worker(table)  # loads from the table; uncommitted batches come again
    after = run(second, stream[crash - redelivered :])
    assert [a.alert_id for a in before + after] == [a.alert_id for a in expected]
    for model in PARTITION:
        assert second.monitor.export_model(model) == once.monitor.export_model(model)
    assert len(second.monitor.join) == len(once.monitor.join)


def test_matched_predictions_leave_the_table() -> None:
    table = MemoryTable()
    state = worker(table)
    stream = batches()
    run(state, stream[: len(stream) // 2])
    assert join_rows(table) == len(state.monitor.join) > 0
    run(state, stream[len(stream) // 2 :])
    assert len(state.monitor.join) == 0  # every prediction got its label
    assert join_rows(table) == 0
    assert set(table.data) == {b"drifting", b"stationary"}


def test_evicted_predictions_leave_the_table() -> None:
    settings = SETTINGS.model_copy(
        update={"performance": SETTINGS.performance.model_copy(update={"max_pending": 100})}
    )
    table = MemoryTable()
    state = worker(table, settings)
    run(state, [b for b in batches() if b[0] == "predictions"][:40])
    assert state.monitor.join.evicted.total() > 0
    assert join_rows(table) == len(state.monitor.join) == 100
    restored = worker(table, settings)
    strays = [WireLabel("no-such-event", model, 0.0, 1) for model in PARTITION]
    restored.process("labels", [Message("driftline.labels/0", 0, 10**6, strays)])
    assert len(restored.monitor.join) == 100  # both models loaded, with their chunks


def test_a_large_batch_is_split_into_chunks_under_the_message_limit() -> None:
    table = MemoryTable()
    events = SyntheticModel("big", seed=3).generate(CHUNK_ROWS + 10)[0]
    wire = [msgspec.convert(e, WirePrediction) for e in events]
    worker(table).process("predictions", [Message("p/0", 0, 0, wire)])
    sizes = sorted(len(msgspec.json.decode(v)) for k, v in table.data.items() if b"join" in k)
    assert sizes == [10, CHUNK_ROWS]
    assert max(len(v) for v in table.data.values()) < 1_000_000


def test_a_large_checkpoint_is_written_in_parts_and_restored() -> None:
    """A model building its reference from its first events holds their values."""
    settings = MonitorSettings(reference={"warmup_events": 5000})
    events = SyntheticModel("warming", seed=4).generate(4000)[0]
    wire = [msgspec.convert(e, WirePrediction) for e in events]
    table = MemoryTable()
    first = worker(table, settings)
    for offset, start in enumerate(range(0, len(wire), 1000)):
        first.process("predictions", [Message("p/0", 0, offset, wire[start : start + 1000])])
    parts = [k for k in table.data if b"\x1fpart\x1f" in k]
    named = msgspec.json.decode(table.data[b"warming"])
    assert named["generation"] >= 2  # written in parts more than once
    assert len(parts) == named["parts"] >= 2  # the last generation only: older ones deleted
    assert max(len(v) for v in table.data.values()) <= CHECKPOINT_PART_BYTES
    second = worker(table, settings)
    second.process("predictions", [Message("p/0", 0, 3, wire[3000:])])  # a redelivery
    assert second.monitor.export_model("warming") == first.monitor.export_model("warming")
