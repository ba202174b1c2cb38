"""The Sequencer (monitor/kafka/delivery.py): whatever a consumer drops, repeats or
delivers late, a worker applies each record of a partition once, in offset order."""

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.kafka.delivery import Admission, Sequencer

P = ("driftline.predictions", 0)


def admitted(
    sequencer: Sequencer[tuple[str, int]], offsets: list[int], log: list[int] | None = None
) -> list[int]:
    """The offsets the sequencer admits, a worker probing ``log`` (the broker) on gaps."""
    out = []
    for offset in offsets:
        admission = sequencer.admit(P, offset)
        expected = sequencer.expected(P)
        if admission is Admission.GAP and expected is not None:
            first = next((o for o in log if o >= expected), None) if log is not None else None
            sequencer.absent(P, first, offset)
            admission = sequencer.admit(P, offset)
        if admission is Admission.APPLY:
            out.append(offset)
    return out


def test_in_order_and_once() -> None:
    sequencer: Sequencer[tuple[str, int]] = Sequencer()
    sequencer.start(P, 5)
    assert admitted(sequencer, [5, 6, 6, 4, 7]) == [5, 6, 7]
    assert sequencer.rereads() == {}


def test_a_partition_not_assigned_here_is_not_applied() -> None:
    sequencer: Sequencer[tuple[str, int]] = Sequencer()
    assert admitted(sequencer, [0, 1]) == []
    sequencer.start(P, 0)
    sequencer.forget()  # revoked
    assert admitted(sequencer, [0]) == []


def test_past_a_dropped_record_nothing_is_applied_until_it_is_read_again() -> None:
    log = list(range(200))
    sequencer: Sequencer[tuple[str, int]] = Sequencer()
    sequencer.start(P, 90)
    assert admitted(sequencer, [91, 92, 93], log) == []  # 90 was dropped on the way
    assert sequencer.rereads() == {P: 90}
    assert admitted(sequencer, [94, 95], log) == []  # fetched before the seek: ignored
    assert admitted(sequencer, [90, 91, 92, 93, 94, 95, 96], log) == list(range(90, 97))
    assert (sequencer.rereads_asked, sequencer.gaps_passed) == (1, 0)


def test_offsets_the_log_has_no_record_at_are_passed_at_once() -> None:
    log = [o for o in range(20) if o not in (11, 12)]  # e.g. transaction markers
    sequencer: Sequencer[tuple[str, int]] = Sequencer()
    sequencer.start(P, 10)
    assert admitted(sequencer, [10, 13, 14], log) == [10, 13, 14]
    assert sequencer.rereads() == {}
    assert (sequencer.rereads_asked, sequencer.gaps_passed) == (0, 1)


def test_a_reread_that_does_not_come_is_asked_again() -> None:
    now = [0.0]
    sequencer: Sequencer[tuple[str, int]] = Sequencer(retry_after=5.0, clock=lambda: now[0])
    sequencer.start(P, 0)
    assert admitted(sequencer, [1]) == []  # the probe could not tell: read again
    assert sequencer.rereads() == {P: 0}
    admitted(sequencer, [2])  # stale, soon after
    assert sequencer.rereads() == {}
    now[0] = 6.0
    assert admitted(sequencer, [3], log=[3, 4]) == [3]  # asked the log again: 0-2 gone
    assert sequencer.rereads() == {}


def test_only_what_is_durable_is_committed() -> None:
    sequencer: Sequencer[tuple[str, int]] = Sequencer()
    sequencer.start(P, 3)
    assert sequencer.committable(P) == 3
    admitted(sequencer, [3, 4, 5])
    assert sequencer.committable(P) == 3  # applied, not yet checkpointed
    sequencer.done({P: 6})
    assert sequencer.committable(P) == 6
    sequencer.start(P, 4)  # sought back (a rebalance) while a batch was in flight
    sequencer.done({P: 9})
    assert sequencer.committable(P) == 4


def test_retry_after_must_be_positive() -> None:
    with pytest.raises(ValueError, match="retry_after"):
        Sequencer(retry_after=0)


class FaultyConsumer:
    """A consumer that drops, repeats and delivers stale records, as Faust does around
    rebalances: each delivery may lose the next record, deliver it twice, or (after a
    seek) first deliver records fetched before the seek."""

    def __init__(self, log: list[int], rng: random.Random) -> None:
        self.log, self.rng = log, rng
        self.position = 0  # index into log
        self.stale: list[int] = []

    def seek(self, offset: int) -> None:
        self.stale = self.log[self.position : self.position + self.rng.randint(0, 5)]
        self.position = next((i for i, o in enumerate(self.log) if o >= offset), len(self.log))

    def batch(self) -> list[int]:
        out, self.stale = self.stale, []
        for _ in range(self.rng.randint(1, 8)):
            if self.position >= len(self.log):
                break
            record = self.log[self.position]
            self.position += 1
            roll = self.rng.random()
            if roll < 0.1:
                continue  # dropped
            out += [record, record] if roll < 0.2 else [record]
        return out


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), markers=st.sets(st.integers(1, 199), max_size=20))
def test_whatever_the_consumer_drops_every_record_is_applied_once_in_order(
    seed: int, markers: set[int]
) -> None:
    log = [o for o in range(200) if o not in markers]  # markers: offsets with no record
    consumer = FaultyConsumer(log, random.Random(seed))
    sequencer: Sequencer[tuple[str, int]] = Sequencer()
    sequencer.start(P, 0)
    applied: list[int] = []
    for _ in range(2_000):
        if applied == log:
            break
        applied += admitted(sequencer, consumer.batch(), log)
        if applied:
            sequencer.done({P: applied[-1] + 1})  # checkpointed
        for _, offset in sequencer.rereads().items():
            consumer.seek(offset)
        if consumer.position >= len(log) and not consumer.stale:  # the last one was lost:
            committed = sequencer.committable(P) or 0  # nothing shows the gap until a
            consumer.seek(committed)  # later record comes, or a successor starts from
            sequencer.start(P, committed)  # the last commit
    assert applied == log


def test_a_record_standing_for_a_batch_moves_past_the_batch() -> None:
    """A record batch that could not be decoded comes as one placeholder record."""
    sequencer: Sequencer[tuple[str, int]] = Sequencer()
    sequencer.start(P, 100)
    assert sequencer.admit(P, 100, last=199) is Admission.APPLY
    assert admitted(sequencer, [200, 201]) == [200, 201]


def test_a_failed_batch_is_taken_again_from_the_last_durable_offset() -> None:
    sequencer: Sequencer[tuple[str, int]] = Sequencer()
    sequencer.start(P, 0)
    assert admitted(sequencer, [0, 1]) == [0, 1]
    sequencer.done({P: 2})
    assert admitted(sequencer, [2, 3]) == [2, 3]  # then applying them fails
    sequencer.rewind(P)
    assert sequencer.rereads() == {P: 2}
    assert admitted(sequencer, [4, 2, 3, 4]) == [2, 3, 4]  # 4: delivered before the seek
    assert sequencer.committable(P) == 2
