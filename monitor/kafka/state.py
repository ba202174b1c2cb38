"""The models' state of a Kafka worker, checkpointed to a key-value table after every
micro-batch, so that a worker taking over a partition goes on where the other stopped.

Per model the table holds (all JSON, never pickle):

- ``model`` → a checkpoint: :meth:`Monitor.export_model` (windows, self-built
  references, trackers, alert episodes, labels held for a prediction not seen yet and
  the label join's counts), the offset of the last message applied from each topic
  partition, and the keys of the model's join chunks;
- ``model␟join␟topic/partition@offset+row`` → a join chunk: up to 4,096 predictions of
  one micro-batch that still wait for their label, as ``[event_id, version, prediction,
  ts]`` rows. A chunk is rewritten when labels take rows out of it and deleted when it
  is empty (matched, expired or evicted), so a checkpoint costs what changed, not the
  whole join (up to ``performance.max_pending`` predictions).

A checkpoint over 512 KiB (a model still building its reference from its first
events holds their values) is written in parts, ``model␟part␟generation␟i``, before
the ``model`` key that names them; the previous generation's parts are deleted after
it. Kafka refuses messages over 1 MB by default.

Every key of a model goes to the changelog partition of the model's input partition
(events are keyed by model), chunks first and the checkpoint last: a producer keeps
the order of one partition, so a checkpoint that arrived names only chunks that did.
A message at or below a checkpoint's offset is a redelivery after a crash (Kafka
delivers at least once) and is skipped.

A model the monitor does not hold (refused past ``limits.max_models``, or seen only in
labels that matched nothing and are no longer held) gets no checkpoint and nothing kept
here; refused events come back as dead letters named by ``topic/partition@offset``.
"""

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple, Protocol

import msgspec

from monitor.core import Monitor, Output
from monitor.performance.join import Pending
from monitor.validate.validator import EventKind

__all__ = [
    "CHECKPOINT_PART_BYTES",
    "CHUNK_ROWS",
    "MemoryTable",
    "Message",
    "StateTable",
    "TableState",
]

_SEPARATOR = "\x1f"  # a control character: model names cannot contain it
CHUNK_ROWS = 4096  # ~350 kB of JSON: well under Kafka's default 1 MB message limit
CHECKPOINT_PART_BYTES = 512 * 1024  # a larger checkpoint is written in parts


class StateTable(Protocol):
    """Where checkpoints go: a Faust table on a changelog topic, or memory in tests."""

    def get(self, key: bytes) -> bytes | None:
        """The value of ``key``, or None."""

    def put(self, partition: int, key: bytes, value: bytes) -> None:
        """Set ``key`` and log it to changelog ``partition``."""

    def delete(self, partition: int, key: bytes) -> None:
        """Remove ``key`` and log its removal to changelog ``partition``."""


class MemoryTable:
    """A :class:`StateTable` in a dict, for tests and tools.

    >>> table = MemoryTable()
    >>> table.put(0, b"k", b"v")
    >>> table.get(b"k"), table.writes
    (b'v', 1)
    """

    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}
        self.writes = 0

    def get(self, key: bytes) -> bytes | None:
        """The value of ``key``, or None."""
        return self.data.get(key)

    def put(self, partition: int, key: bytes, value: bytes) -> None:
        """Set ``key``."""
        self.data[key] = value
        self.writes += 1

    def delete(self, partition: int, key: bytes) -> None:
        """Remove ``key``."""
        self.data.pop(key, None)
        self.writes += 1


class Message(NamedTuple):
    """The decoded events of one Kafka message, and where the message was."""

    source: str  # "topic/partition"
    partition: int
    offset: int
    events: list[Any]


class TableState:
    """Applies micro-batches of messages to a :class:`Monitor`, once, and checkpoints.

    Examples
    --------
    >>> from monitor.reference.profile import ReferenceSet
    >>> from monitor.settings import MonitorSettings
    >>> from schemas.wire import WireLabel, WirePrediction
    >>> settings, table = MonitorSettings(), MemoryTable()
    >>> first = TableState(Monitor(settings, ReferenceSet([])), table)
    >>> p = WirePrediction("e1", "m", 1.0, {"x": 1.0}, prediction=0.5)
    >>> _ = first.process("predictions", [Message("p/0", 0, 7, [p])])
    >>> second = TableState(Monitor(settings, ReferenceSet([])), table)  # a successor
    >>> _ = second.process("predictions", [Message("p/0", 0, 7, [p])])  # redelivered
    >>> second.monitor.counters.predictions, second.monitor.join.get("e1", "m").prediction
    (0, 0.5)
    """

    def __init__(self, monitor: Monitor, table: StateTable) -> None:
        self.monitor = monitor
        self.table = table
        self.offsets: dict[str, dict[str, int]] = {}  # model -> source -> last offset
        self.partition: dict[str, int] = {}  # model -> changelog partition
        self.chunks: dict[str, dict[str, list[str]]] = {}  # model -> chunk key -> event ids
        self.chunk_of: dict[str, dict[str, str]] = {}  # model -> event id -> chunk key
        self.parts: dict[str, tuple[int, int]] = {}  # model -> last checkpoint's generation, parts

    def process(self, kind: EventKind, messages: Sequence[Message]) -> Output:
        """Apply the events of ``messages`` not applied before, then checkpoint."""
        touched: dict[str, tuple[str, int]] = {}  # model -> last (source, offset)
        events: list[Any] = []
        sources: list[str] = []  # each event's topic/partition@offset, for dead letters
        for message in messages:
            for model in {e.model for e in message.events}:
                self._load(model, message.partition)
            fresh = [
                e
                for e in message.events
                if self.offsets[e.model].get(message.source, -1) < message.offset
            ]
            events += fresh
            sources += [f"{message.source}@{message.offset}"] * len(fresh)
            for event in fresh:
                touched[event.model] = (message.source, message.offset)
                self.partition[event.model] = message.partition
        if kind == "predictions":
            out = self.monitor.process_predictions(events, sources)
        elif kind == "labels":
            out = self.monitor.process_labels(events, sources)
        else:
            out = self.monitor.process_metrics(events, sources)
        self._let_go(touched)

        dirty: dict[str, set[str]] = {model: set() for model in touched}
        if kind == "predictions":
            self._new_chunks(events, touched, dirty)
        elif kind == "labels":
            self._matched(events, dirty)
        self._expired(dirty)
        for model, keys in dirty.items():
            self._rewrite(model, keys)
        for model in dirty:
            if model in touched:
                source, offset = touched[model]
                self.offsets[model][source] = offset
            self._checkpoint(model)
        return out

    def _let_go(self, touched: dict[str, tuple[str, int]]) -> None:
        """Forget the models of the batch that the monitor does not hold (refused, or
        only labels that matched nothing and are not held either): they get no
        checkpoint. Labels held for their prediction are checkpointed (at most
        ``limits.max_models`` models hold some)."""
        holds, early = self.monitor.limits.holds, self.monitor.early
        for model in [m for m in touched if not holds(m) and not early.get(m)]:
            del touched[model]
            for held in (self.offsets, self.partition, self.chunks, self.chunk_of, self.parts):
                held.pop(model, None)

    def _load(self, model: str, partition: int) -> None:
        if model in self.offsets:
            return
        self.partition[model] = partition
        self.chunks[model] = {}
        self.chunk_of[model] = {}
        saved = self.table.get(model.encode())
        if saved is None:
            self.offsets[model] = {}
            return
        state = msgspec.json.decode(saved)
        if "parts" in state:
            generation, count = state["generation"], state["parts"]
            self.parts[model] = (generation, count)
            keys = (_part_key(model, generation, i) for i in range(count))
            state = msgspec.json.decode(b"".join(self.table.get(k) or b"" for k in keys))
        self.monitor.import_model(model, state["monitor"])
        self.offsets[model] = state["offsets"]
        for key in state["join"]:
            chunk = self.table.get(key.encode())
            rows = msgspec.json.decode(chunk) if chunk is not None else []
            self.monitor.join.add((r[0], Pending(model, r[1], r[2], r[3])) for r in rows)
            self._remember(model, key, [r[0] for r in rows])

    def _remember(self, model: str, key: str, event_ids: list[str]) -> None:
        self.chunks[model][key] = event_ids
        chunk_of = self.chunk_of[model]
        for event_id in event_ids:
            chunk_of[event_id] = key

    def _new_chunks(
        self, events: list[Any], touched: dict[str, tuple[str, int]], dirty: dict[str, set[str]]
    ) -> None:
        join = self.monitor.join
        waiting: dict[str, list[str]] = {}
        for event in events:
            if join.get(event.event_id, event.model) is not None:
                waiting.setdefault(event.model, []).append(event.event_id)
        for model, event_ids in waiting.items():
            source, offset = touched[model]
            for start in range(0, len(event_ids), CHUNK_ROWS):
                key = _SEPARATOR.join((model, "join", f"{source}@{offset}+{start}"))
                self._remember(model, key, event_ids[start : start + CHUNK_ROWS])
                dirty[model].add(key)

    def _matched(self, labels: Iterable[Any], dirty: dict[str, set[str]]) -> None:
        for label in labels:
            key = self.chunk_of.get(label.model, {}).get(label.event_id)
            if key is not None:
                dirty[label.model].add(key)

    def _expired(self, dirty: dict[str, set[str]]) -> None:
        """Mark the oldest chunks that lost predictions to the join's TTL or size cap.

        The join drops the oldest predictions first, so a model's oldest chunk that
        still has its first prediction has lost none, and neither have later chunks.
        """
        join = self.monitor.join
        for model, chunks in self.chunks.items():
            for key, event_ids in chunks.items():
                if join.get(event_ids[0], model) is not None:
                    break
                dirty.setdefault(model, set()).add(key)
                if any(join.get(e, model) is not None for e in event_ids):
                    break

    def _rewrite(self, model: str, keys: set[str]) -> None:
        join, partition = self.monitor.join, self.partition[model]
        chunks, chunk_of = self.chunks[model], self.chunk_of[model]
        for key in keys:
            rows = []
            for event_id in chunks[key]:
                pending = join.get(event_id, model)
                if pending is None:
                    chunk_of.pop(event_id, None)
                else:
                    rows.append((event_id, pending.model_version, pending.prediction, pending.ts))
            if rows:
                chunks[key] = [row[0] for row in rows]
                self.table.put(partition, key.encode(), msgspec.json.encode(rows))
            else:
                del chunks[key]
                self.table.delete(partition, key.encode())

    def _checkpoint(self, model: str) -> None:
        state = {
            "monitor": self.monitor.export_model(model),
            "offsets": self.offsets[model],
            "join": list(self.chunks[model]),
        }
        value, partition = msgspec.json.encode(state), self.partition[model]
        old_generation, old_parts = self.parts.get(model, (0, 0))
        size = CHECKPOINT_PART_BYTES
        parts = [value[i : i + size] for i in range(0, len(value), size)]
        if len(parts) > 1:  # new parts under a new generation, then the key naming them
            generation = old_generation + 1
            for i, part in enumerate(parts):
                self.table.put(partition, _part_key(model, generation, i), part)
            value = msgspec.json.encode({"parts": len(parts), "generation": generation})
            self.parts[model] = (generation, len(parts))
        else:
            self.parts[model] = (old_generation, 0)
        self.table.put(partition, model.encode(), value)
        for i in range(old_parts):  # the previous generation's, once nothing names them
            self.table.delete(partition, _part_key(model, old_generation, i))


def _part_key(model: str, generation: int, index: int) -> bytes:
    return _SEPARATOR.join((model, "part", str(generation), str(index))).encode()
