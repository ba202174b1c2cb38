"""Each consumed partition's records applied once, in offset order, none skipped; and
the offsets a worker may commit.

Faust delivers at least once only between rebalances. Around one (or a worker's start)
it drops records it had fetched: a stream skips those that arrive while flow control
is paused and acknowledges them, the fetch loop drops one whose delivery a paused flow
interrupted, and records fetched before the post-rebalance seek are still delivered
after it, which makes Faust ignore the records read again from the committed offset.
Its commit then passes the dropped records: its gap rule counts a jump in offsets as
acknowledged, and a one-offset hole at the head of a partition is not seen at all.
Seen on a real broker: the first record after "Worker ready" lost, and runs of 5 to
15 records lost after a restart (tests/kafka/test_faults.py).

A :class:`Sequencer` does not depend on how Faust drops: it admits a partition's
records only at the offset it expects next. A record past that offset is a gap, and a
gap is either records Faust dropped or offsets the log has no record at (transaction
markers). The worker asks the broker (:class:`LogProbe`) for the first record at or
after the expected offset: if it is the delivered one, the gap is the log's own;
otherwise the partition is read again from it, and nothing else of that partition is
admitted until it comes. Offsets are committed from what the worker marked durable,
never from Faust's acknowledgements.
"""

import logging
import time
from collections.abc import Callable, Hashable, Mapping
from enum import Enum
from typing import Any, Generic, TypeVar

__all__ = ["Admission", "LogProbe", "Sequencer"]

log = logging.getLogger(__name__)

Partition = TypeVar("Partition", bound=Hashable)  # a Faust TP, or a (topic, partition) pair


class Admission(Enum):
    """What to do with a delivered record."""

    APPLY = "apply"  # the next record of its partition
    IGNORE = "ignore"  # applied before, fetched before a seek back, or not assigned here
    GAP = "gap"  # past the next offset: ask the log what is there, tell Sequencer.absent


class Sequencer(Generic[Partition]):
    """Which delivered records to apply, which partitions to read again, what to commit.

    Parameters
    ----------
    retry_after
        Seconds after which a re-read that has not come is asked for again.
    clock
        Monotonic seconds (tests pass their own).

    Examples
    --------
    >>> sequencer: Sequencer[tuple[str, int]] = Sequencer()
    >>> p = ("driftline.predictions", 0)
    >>> sequencer.start(p, 10)  # assigned; the committed offset is 10
    >>> [sequencer.admit(p, o).value for o in (10, 12)]  # 11 never came
    ['apply', 'gap']
    >>> sequencer.absent(p, 11, delivered=12)  # the broker has a record at 11
    >>> sequencer.rereads()
    {('driftline.predictions', 0): 11}
    >>> [sequencer.admit(p, o).value for o in (13, 11, 12)]  # 13: fetched before the seek
    ['ignore', 'apply', 'apply']
    >>> sequencer.done({p: 13})  # applied and checkpointed up to 12
    >>> sequencer.committable(p)
    13
    """

    def __init__(
        self, retry_after: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if retry_after <= 0:
            raise ValueError(f"retry_after must be positive, got {retry_after}")
        self.retry_after = retry_after
        self.clock = clock
        self._next: dict[Partition, int] = {}  # the offset to admit next
        self._waiting: dict[Partition, float] = {}  # read again from _next: asked when
        self._rereads: dict[Partition, int] = {}
        self._durable: dict[Partition, int] = {}
        self.rereads_asked = 0
        self.gaps_passed = 0  # offsets the log has no record at

    def start(self, partition: Partition, offset: int) -> None:
        """Deliveries of ``partition`` start at ``offset`` (it was assigned, and sought
        to its committed offset)."""
        self._next[partition] = offset
        self._durable[partition] = offset
        self._waiting.pop(partition, None)
        self._rereads.pop(partition, None)

    def forget(self, *args: Any, **kwargs: Any) -> None:
        """Forget every partition (they were revoked); a Faust signal receiver."""
        self._next.clear()
        self._waiting.clear()
        self._rereads.clear()
        self._durable.clear()

    def expected(self, partition: Partition) -> int | None:
        """The offset of ``partition`` to admit next (None: not assigned here)."""
        return self._next.get(partition)

    def admit(self, partition: Partition, offset: int, last: int | None = None) -> Admission:
        """Whether the record at ``offset`` is the next of ``partition`` to apply.

        ``last``: the last offset the record stands for, if it stands for several (a
        record batch that could not be decoded, delivered as one placeholder)."""
        expected = self._next.get(partition)
        if expected is None or offset < expected:
            return Admission.IGNORE
        if offset == expected:
            self._next[partition] = max(offset, last or offset) + 1
            self._waiting.pop(partition, None)
            return Admission.APPLY
        asked = self._waiting.get(partition)
        if asked is None or self.clock() - asked > self.retry_after:
            return Admission.GAP  # (again, if the re-read has not come: ask the log again)
        return Admission.IGNORE

    def absent(self, partition: Partition, first: int | None, delivered: int) -> None:
        """After a gap at the record ``delivered``: the log's first record at or after
        the expected offset is at ``first`` (None: unknown). Offsets before it have no
        record and are passed; unless ``first`` is the delivered record, the partition
        is read again from it."""
        expected = self._next.get(partition)
        if expected is None:
            return
        if first is not None and first > expected:
            self.gaps_passed += 1
            self._next[partition] = expected = first
        if first != delivered:
            self._ask(partition, expected)

    def rewind(self, partition: Partition) -> None:
        """Take ``partition`` again from after its last durable batch (a batch failed:
        what it applied is not durable) and ask for it to be read again from there."""
        durable = self._durable.get(partition)
        if durable is not None:
            self._next[partition] = durable
            self._ask(partition, durable)

    def rereads(self) -> dict[Partition, int]:
        """The partitions to read again, and from which offset (asked once each)."""
        rereads, self._rereads = self._rereads, {}
        return rereads

    def done(self, marks: Mapping[Partition, int]) -> None:
        """The records admitted below ``marks[partition]`` are applied and durable."""
        for partition, mark in marks.items():
            expected = self._next.get(partition)
            if expected is not None and mark <= expected:
                self._durable[partition] = max(self._durable[partition], mark)

    def committable(self, partition: Partition) -> int | None:
        """The offset to commit for ``partition``: after everything durable (or None)."""
        return self._durable.get(partition)

    def _ask(self, partition: Partition, offset: int) -> None:
        self.rereads_asked += 1
        self._waiting[partition] = self.clock()
        self._rereads[partition] = offset


class LogProbe:
    """Where a partition's next record really is: one fetch from the broker, by a
    consumer of its own (no group), so nothing Faust buffered can mislead it.

    ``config`` are kafka-python client keywords (``KafkaSettings.kafka_python_options()``).
    """

    def __init__(self, config: Mapping[str, Any], timeout: float = 10.0) -> None:
        self.config = dict(config)
        self.timeout = timeout
        self._consumer: Any = None

    def first(self, topic: str, partition: int, offset: int) -> int | None:
        """The offset of the first record of ``topic/partition`` at or after ``offset``,
        or None if none came within the timeout. Blocking: run it in a thread."""
        from kafka import KafkaConsumer, TopicPartition

        try:
            if self._consumer is None:
                self._consumer = KafkaConsumer(
                    **self.config, enable_auto_commit=False, auto_offset_reset="earliest"
                )
            tp = TopicPartition(topic, partition)
            self._consumer.assign([tp])
            self._consumer.seek(tp, offset)
            deadline = time.monotonic() + self.timeout
            while time.monotonic() < deadline:
                for record in self._consumer.poll(timeout_ms=500, max_records=1).get(tp, []):
                    return int(record.offset)
        except Exception as error:  # the partition is read again instead: never a crash
            log.warning("cannot probe %s/%s@%s: %r", topic, partition, offset, error)
            self.close()
        return None

    def close(self) -> None:
        """Close the probe's consumer."""
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            try:
                consumer.close()
            except Exception as error:
                log.warning("cannot close the probe's consumer: %r", error)
