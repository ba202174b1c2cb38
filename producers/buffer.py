"""The producer's bounded buffer: events wait here, then leave as batch messages.

One FIFO for all topics and models, bounded in events: when Kafka is slow or down and
the buffer is full, the oldest events make room for new ones and are counted as dropped,
so a service never blocks and never runs out of memory. Taking a batch groups the
waiting events by topic and model (the message key) into JSON arrays of at most
``batch_events`` events and ``batch_bytes`` bytes, in arrival order.
"""

import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

__all__ = ["Batch", "EventBuffer", "Waiting"]


@dataclass(frozen=True, slots=True)
class Waiting:
    """One encoded event waiting to be sent."""

    topic: str
    key: str
    payload: bytes
    since: float


@dataclass(frozen=True)
class Batch:
    """Events of one topic and model, as one message."""

    topic: str
    key: str
    events: tuple[Waiting, ...]

    @property
    def value(self) -> bytes:
        """The message value: a JSON array of the events."""
        return b"[" + b",".join(e.payload for e in self.events) + b"]"


class EventBuffer:
    """A bounded FIFO of encoded events, drained as batch messages.

    Examples
    --------
    >>> buffer = EventBuffer(capacity=3, batch_events=2, batch_bytes=1024, clock=lambda: 0.0)
    >>> [buffer.add("t", "m", b'{"n":%d}' % n) for n in range(4)]
    [0, 0, 0, 1]
    >>> [(b.key, b.value) for b in buffer.take()]
    [('m', b'[{"n":1},{"n":2}]'), ('m', b'[{"n":3}]')]
    >>> buffer.dropped, len(buffer)
    (1, 0)
    """

    def __init__(
        self,
        capacity: int,
        batch_events: int,
        batch_bytes: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if capacity < 1 or batch_events < 1 or batch_bytes < 1:
            raise ValueError("capacity, batch_events and batch_bytes must be positive")
        self.capacity = capacity
        self.batch_events = batch_events
        self.batch_bytes = batch_bytes
        self.clock = clock
        self._waiting: deque[Waiting] = deque()
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._waiting)

    def add(self, topic: str, key: str, payload: bytes) -> int:
        """Queue one event; return how many of the oldest were dropped to make room."""
        self._waiting.append(Waiting(topic, key, payload, self.clock()))
        return self._trim()

    def put_back(self, batches: Iterable[Batch]) -> int:
        """Return unsent batches to the front, in order; return how many events dropped."""
        for batch in reversed(list(batches)):
            self._waiting.extendleft(reversed(batch.events))
        return self._trim()

    def _trim(self) -> int:
        overflow = len(self._waiting) - self.capacity
        for _ in range(max(overflow, 0)):
            self._waiting.popleft()
        self.dropped += max(overflow, 0)
        return max(overflow, 0)

    def oldest_age(self) -> float:
        """Seconds the oldest waiting event has waited (0 when empty)."""
        return self.clock() - self._waiting[0].since if self._waiting else 0.0

    def take(self) -> list[Batch]:
        """Everything waiting, as batch messages per topic and key, in arrival order."""
        groups: dict[tuple[str, str], list[Waiting]] = {}
        while self._waiting:
            event = self._waiting.popleft()
            groups.setdefault((event.topic, event.key), []).append(event)
        batches = []
        for (topic, key), events in groups.items():
            start, size = 0, 2
            for i, event in enumerate(events):
                full = i - start == self.batch_events
                if i > start and (full or size + len(event.payload) + 1 > self.batch_bytes):
                    batches.append(Batch(topic, key, tuple(events[start:i])))
                    start, size = i, 2
                size += len(event.payload) + 1
            batches.append(Batch(topic, key, tuple(events[start:])))
        return batches
