"""Replay recorded streams (.jsonl files) through the embedded engine, in event order.

Files are read in micro-batches of lines, decoded in one call per batch, and handed to
the engine with their event times (converted once, here, and reused by the core).
Labels and metrics are merged into the prediction stream by event time at micro-batch
granularity: after each batch of predictions up to time T, every label and metric up to
T follows. A label thus always finds the predictions made before it, and the result
does not depend on how the files were cut.
"""

import gc
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from monitor.core import event_times
from monitor.engine.embedded import EmbeddedEngine
from monitor.errors import InputError
from monitor.validate.jsonl import read_jsonl
from monitor.validate.validator import EventKind, Validator
from schemas import topics

__all__ = ["ReplaySummary", "replay"]


@dataclass
class ReplaySummary:
    """What a replay read, refused (invalid, or past a cap of ``limits.*``) and raised."""

    accepted: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def events(self) -> int:
        """Events accepted, of every kind."""
        return sum(self.accepted.values())


def _batches(
    path: Path,
    validator: Validator[Any],
    engine: EmbeddedEngine,
    progress: Callable[[int], None] | None,
) -> Iterator[list[Any]]:
    """Validated events of a .jsonl file, a chunk at a time; refusals go to the bus."""
    for chunk in read_jsonl(path, validator):
        engine.bus.publish(topics.DEAD_LETTER, chunk.dead)
        if progress is not None:
            progress(chunk.size)
        yield chunk.events


class _Follower:
    """A label or metric stream, released up to a given event time."""

    def __init__(self, kind: EventKind, batches: Iterator[list[Any]]) -> None:
        self.kind = kind
        self.batches = batches
        self.buffer: list[Any] = []
        self.times = np.empty(0)  # the buffer's event times, in seconds

    def until(self, horizon: float) -> tuple[list[Any], list[float]]:
        """Every remaining event with event time up to ``horizon``, in file order, and
        their event times."""
        out: list[Any] = []
        times: list[float] = []
        while True:
            if not self.buffer:
                batch = next(self.batches, None)
                if batch is None:
                    return out, times
                self.buffer = batch
                self.times = np.array(event_times(batch), dtype=np.float64)
            later = np.flatnonzero(self.times > horizon)
            if later.size:
                first = int(later[0])
                out += self.buffer[:first]
                times += self.times[:first].tolist()
                self.buffer, self.times = self.buffer[first:], self.times[first:]
                return out, times
            out += self.buffer
            times += self.times.tolist()
            self.buffer = []


def replay(
    engine: EmbeddedEngine,
    events: Path,
    labels: Path | None = None,
    metrics: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> ReplaySummary:
    """Run recorded files through ``engine``; ``progress`` is told of bytes read.

    Raises :class:`~monitor.errors.InputError` when a file cannot be opened.
    """
    with _fewer_collections():
        return _replay(engine, events, labels, metrics, progress)


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """Collect garbage less often while replaying.

    A replay allocates millions of short-lived containers (each event's feature dict)
    and keeps few: the collector's default young-generation threshold (700) made it
    traverse each live batch hundreds of times, and every full collection walked the
    references and imported modules too. Those are frozen out of its reach, and it
    runs every 50,000 allocations instead.
    """
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(50_000, thresholds[1], thresholds[2])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def _replay(
    engine: EmbeddedEngine,
    events: Path,
    labels: Path | None,
    metrics: Path | None,
    progress: Callable[[int], None] | None,
) -> ReplaySummary:
    started = time.perf_counter()
    models = engine.monitor.settings.models
    validators: dict[EventKind, Validator[Any]] = {
        kind: Validator(kind, models) for kind in ("predictions", "labels", "metrics")
    }
    for path in (events, labels, metrics):  # fail before any output, not halfway
        if path is not None and not path.is_file():
            raise InputError(f"cannot read {path}: no such file")
    inputs: list[tuple[EventKind, Path | None]] = [("labels", labels), ("metrics", metrics)]
    followers = [
        _Follower(kind, _batches(path, validators[kind], engine, progress))
        for kind, path in inputs
        if path is not None
    ]
    for batch in _batches(events, validators["predictions"], engine, progress):
        if not batch:
            continue
        ts = event_times(batch)
        engine.process("predictions", batch, ts)
        for follower in followers:
            engine.process(follower.kind, *follower.until(ts[-1]))
    for follower in followers:
        engine.process(follower.kind, *follower.until(float("inf")))
    summary = ReplaySummary(seconds=time.perf_counter() - started)
    refused = engine.monitor.counters.refused  # past a cap of limits.*: "kind.problem"
    for kind, validator in validators.items():
        summary.accepted[kind] = validator.accepted - sum(
            n for key, n in refused.items() if key.startswith(f"{kind}.")
        )
        summary.rejected.update({f"{kind}.{k}": n for k, n in validator.rejected.items()})
    summary.rejected.update(refused)
    return summary
