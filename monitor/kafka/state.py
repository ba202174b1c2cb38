"""The models' state of a Kafka worker, checkpointed to a key-value table after every
micro-batch, so that a worker taking over a partition goes on where the other stopped.

Per model the table holds (all JSON, never pickle):

- ``model`` → a checkpoint: :meth:`Monitor.export_model` (windows, self-built
  references, trackers, alert episodes, labels held for a prediction not seen yet and
  the label join's counts), the offset of the last message applied from each source
  (``topic/partition``), and the keys of the model's join chunks;
- ``model␟join␟topic/partition@offset+row[␟version]`` → a join chunk: up to 4,096
  predictions of one micro-batch that still wait for their label, as ``[event_id,
  version, prediction, ts]`` rows. When labels (or the join's TTL and cap) take rows
  out, the rest is written under the chunk's next version and the old key is deleted
  once a checkpoint no longer names it; an empty chunk is just deleted. So a checkpoint
  costs what changed, not the whole join (up to ``performance.max_pending`` rows).

A checkpoint over 512 KiB (a model still building its reference from its first
events holds their values) is written in parts, ``model␟part␟generation␟i``, before
the ``model`` key that names them; the previous generation's parts are deleted after
it. Kafka refuses messages over 1 MB by default.

Every key of a model goes to one changelog partition (the partition its events came
from), in this order: new chunks and parts, the checkpoint naming them, then the
deletion of keys only the previous checkpoint named. A producer keeps the order of one
partition, and a worker killed at any point leaves a prefix of its writes: the last
checkpoint in it names only chunks and parts that are there, with every row they had.
A message at or below a checkpoint's offset for its source is a redelivery after a
crash (Kafka delivers at least once) and is skipped.

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

    :meth:`process` is :meth:`apply` then :meth:`checkpoint`. A Kafka worker calls them
    apart, to publish a batch's outputs between the two: a checkpoint must never be
    durable before the alerts and window summaries of the events it covers.

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
        self.offsets: dict[str, dict[str, int]] = {}  # model -> source -> last offset applied
        self.partition: dict[str, int] = {}  # model -> changelog partition
        self.chunks: dict[str, dict[str, list[str]]] = {}  # model -> chunk key -> event ids
        self.chunk_of: dict[str, dict[str, str]] = {}  # model -> event id -> chunk key
        self.named: dict[str, set[str]] = {}  # model -> chunk keys its last checkpoint names
        self.parts: dict[str, tuple[int, int]] = {}  # model -> last checkpoint's generation, parts
        self.dirty: dict[str, set[str]] = {}  # model -> chunks changed since its checkpoint

    def process(self, kind: EventKind, messages: Sequence[Message]) -> Output:
        """Apply the events of ``messages`` not applied before, then checkpoint."""
        out = self.apply(kind, messages)
        self.checkpoint()
        return out

    def apply(self, kind: EventKind, messages: Sequence[Message]) -> Output:
        """Apply the events of ``messages`` not applied before (in memory only).

        A message is applied once per model: at or below the offset last applied from
        its source (``topic/partition``) it is a redelivery, also within one batch.
        """
        last: dict[str, tuple[str, int]] = {}  # model -> its last fresh (source, offset)
        events: list[Any] = []
        sources: list[str] = []  # each event's topic/partition@offset, for dead letters
        for message in messages:
            for model in {e.model for e in message.events}:
                self._load(model, message.partition)
            source, offset = message.source, message.offset
            fresh = [e for e in message.events if self.offsets[e.model].get(source, -1) < offset]
            events += fresh
            sources += [f"{source}@{offset}"] * len(fresh)
            for model in {e.model for e in fresh}:
                self.offsets[model][source] = offset
                self.partition[model] = message.partition
                last[model] = (source, offset)
        if kind == "predictions":
            out = self.monitor.process_predictions(events, sources)
        elif kind == "labels":
            out = self.monitor.process_labels(events, sources)
        else:
            out = self.monitor.process_metrics(events, sources)
        self._let_go(last)

        for model in last:
            self.dirty.setdefault(model, set())
        if kind == "predictions":
            self._new_chunks(events, last)
        elif kind == "labels":
            self._matched(events)
        self._expired()
        return out

    def checkpoint(self) -> None:
        """Write the state of every model changed since its last checkpoint.

        Per model, in the order a successor may see any prefix of (one changelog
        partition): chunks under keys no checkpoint names yet, then the checkpoint
        naming them, then the removal of keys only the previous checkpoint named. A
        chunk is never changed in place: a successor that finds the previous checkpoint
        finds every row it named.
        """
        dirty, self.dirty = self.dirty, {}
        for model, keys in dirty.items():
            self._write_chunks(model, keys)
            self._checkpoint(model)

    def _let_go(self, touched: dict[str, tuple[str, int]]) -> None:
        """Forget the models of the batch that the monitor does not hold (refused, or
        only labels that matched nothing and are not held either): they get no
        checkpoint. Labels held for their prediction are checkpointed (at most
        ``limits.max_models`` models hold some)."""
        holds, early = self.monitor.limits.holds, self.monitor.early
        for model in [m for m in touched if not holds(m) and not early.get(m)]:
            del touched[model]
            held: dict[str, Any]
            for held in (self.offsets, self.partition, self.chunks, self.chunk_of, self.named):
                held.pop(model, None)
            self.parts.pop(model, None)
            self.dirty.pop(model, None)

    def _load(self, model: str, partition: int) -> None:
        if model in self.offsets:
            return
        self.partition[model] = partition
        self.chunks[model] = {}
        self.chunk_of[model] = {}
        self.named[model] = set()
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
        self.named[model] = set(state["join"])

    def _remember(self, model: str, key: str, event_ids: list[str]) -> None:
        self.chunks[model][key] = event_ids
        chunk_of = self.chunk_of[model]
        for event_id in event_ids:
            chunk_of[event_id] = key

    def _new_chunks(self, events: list[Any], last: dict[str, tuple[str, int]]) -> None:
        """Put the predictions of ``events`` still waiting in new chunks, named after
        their model's last message in the batch (applied once: a name used once)."""
        join = self.monitor.join
        waiting: dict[str, list[str]] = {}
        for event in events:
            if join.get(event.event_id, event.model) is not None:
                waiting.setdefault(event.model, []).append(event.event_id)
        for model, event_ids in waiting.items():
            source, offset = last[model]
            for start in range(0, len(event_ids), CHUNK_ROWS):
                key = _SEPARATOR.join((model, "join", f"{source}@{offset}+{start}"))
                self._remember(model, key, event_ids[start : start + CHUNK_ROWS])
                self.dirty[model].add(key)

    def _matched(self, labels: Iterable[Any]) -> None:
        for label in labels:
            key = self.chunk_of.get(label.model, {}).get(label.event_id)
            if key is not None:
                self.dirty[label.model].add(key)

    def _expired(self) -> None:
        """Mark the oldest chunks that lost predictions to the join's TTL or size cap.

        The join drops the oldest predictions first, so a model's oldest chunk that
        still has its first prediction has lost none, and neither have later chunks.
        """
        join = self.monitor.join
        for model, chunks in self.chunks.items():
            for key, event_ids in chunks.items():
                if join.get(event_ids[0], model) is not None:
                    break
                self.dirty.setdefault(model, set()).add(key)
                if any(join.get(e, model) is not None for e in event_ids):
                    break

    def _write_chunks(self, model: str, keys: set[str]) -> None:
        """Write the chunks ``keys`` with the rows still waiting, in place in the order
        of chunks (oldest first): a chunk the last checkpoint names goes under a new key
        (its next version); an empty one goes."""
        join, partition, named = self.monitor.join, self.partition[model], self.named[model]
        chunks, chunk_of = self.chunks[model], self.chunk_of[model]
        kept: dict[str, list[str]] = {}
        for key, event_ids in chunks.items():
            if key not in keys:
                kept[key] = event_ids
                continue
            rows = []
            for event_id in event_ids:
                pending = join.get(event_id, model)
                if pending is None:
                    chunk_of.pop(event_id, None)
                else:
                    rows.append((event_id, pending.model_version, pending.prediction, pending.ts))
            if not rows:
                continue
            if key in named:
                key = _next_version(key)
            kept[key] = [row[0] for row in rows]
            for row in rows:
                chunk_of[row[0]] = key
            self.table.put(partition, key.encode(), msgspec.json.encode(rows))
        self.chunks[model] = kept

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
        named = set(self.chunks[model])
        for key in sorted(self.named[model] - named):  # chunks only the previous one named
            self.table.delete(partition, key.encode())
        self.named[model] = named


def _next_version(key: str) -> str:
    r"""The key a rewritten chunk goes under: ``base`` -> ``base␟1`` -> ``base␟2``.

    >>> _next_version("m\x1fjoin\x1fp/0@7+0"), _next_version("m\x1fjoin\x1fp/0@7+0\x1f1")
    ('m\x1fjoin\x1fp/0@7+0\x1f1', 'm\x1fjoin\x1fp/0@7+0\x1f2')
    """
    model, join, name, *version = key.split(_SEPARATOR)
    return _SEPARATOR.join((model, join, name, str(int(version[0]) + 1 if version else 1)))


def _part_key(model: str, generation: int, index: int) -> bytes:
    return _SEPARATOR.join((model, "part", str(generation), str(index))).encode()
