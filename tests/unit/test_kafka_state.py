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


class LoggingTable(MemoryTable):
    """A :class:`MemoryTable` that logs its writes, in order, as a changelog would."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[tuple[bytes, bytes | None]] = []

    def put(self, partition: int, key: bytes, value: bytes) -> None:
        super().put(partition, key, value)
        self.log.append((key, value))

    def delete(self, partition: int, key: bytes) -> None:
        super().delete(partition, key)
        self.log.append((key, None))


def replayed(log: list[tuple[bytes, bytes | None]]) -> MemoryTable:
    """The table a successor recovers from a changelog holding ``log``."""
    table = MemoryTable()
    for key, value in log:
        if value is None:
            table.delete(0, key)
        else:
            table.put(0, key, value)
    return table


def snapshot(state: TableState) -> dict[str, Any]:
    join = state.monitor.join
    return {
        model: (
            msgspec.json.encode(state.monitor.export_model(model)),
            sorted(e for e in state.chunk_of.get(model, {}) if join.get(e, model) is not None),
        )
        for model in PARTITION
    }


def test_a_crash_at_any_write_of_a_checkpoint_loses_nothing() -> None:
    """Kafka keeps a prefix of a dead worker's changelog writes, in order: whatever the
    prefix, a successor redelivered the uncommitted batch ends in the same state."""
    stream = batches()
    table = LoggingTable()
    first = worker(table)
    ends, logged = [], []  # per batch: the state after it, how long the log was before
    for kind, messages in stream:
        logged.append(len(table.log))
        first.process(kind, messages)  # type: ignore[arg-type]
        ends.append(snapshot(first))
    logged.append(len(table.log))
    label_batches = [i for i, (kind, _) in enumerate(stream) if kind == "labels"]
    crashes = label_batches[5::9] + [i for i in range(30, len(stream), 23)]
    cuts = 0
    for crash in crashes:
        for cut in range(logged[crash], logged[crash + 1]):  # the batch's writes, in part
            second = worker(replayed(table.log[:cut]))
            run(second, stream[crash : crash + 3])
            assert snapshot(second) == ends[crash + 2], (crash, cut)
            cuts += 1
    assert cuts > 50


def predictions(model: str, count: int) -> list[WirePrediction]:
    events = SyntheticModel(model, seed=5).generate(count)[0]
    return [msgspec.convert(e, WirePrediction) for e in events]


def test_a_model_from_two_sources_in_one_batch_is_applied_once() -> None:
    """After routing by model, one model's messages come from several input partitions."""
    events = predictions("m", 6)
    batch = [Message("p/0", 0, 3, events[:3]), Message("p/1", 0, 8, events[3:])]
    table = MemoryTable()
    worker(table).process("predictions", batch)
    second = worker(table)
    second.process("predictions", batch[:1])  # redelivered after a crash
    second.process("predictions", batch[1:])
    assert second.monitor.counters.predictions == 0


def test_a_message_delivered_twice_in_one_batch_is_applied_once() -> None:
    events = predictions("m", 3)
    state = worker(MemoryTable())
    state.process("predictions", [Message("p/0", 0, 3, events), Message("p/0", 0, 3, events)])
    assert state.monitor.counters.predictions == 3
