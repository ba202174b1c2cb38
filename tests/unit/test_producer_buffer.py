"""The producer's bounded buffer: batching by events and bytes, dropping the oldest."""

import pytest

from producers.buffer import EventBuffer


def payloads(buffer: EventBuffer) -> list[list[bytes]]:
    return [[e.payload for e in batch.events] for batch in buffer.take()]


def test_batches_group_by_topic_and_key_in_arrival_order() -> None:
    buffer = EventBuffer(capacity=100, batch_events=10, batch_bytes=10_000)
    for n, key in enumerate("abab"):
        buffer.add("t", key, b"%d" % n)
    buffer.add("u", "a", b"9")
    batches = buffer.take()
    assert [(b.topic, b.key, b.value) for b in batches] == [
        ("t", "a", b"[0,2]"),
        ("t", "b", b"[1,3]"),
        ("u", "a", b"[9]"),
    ]
    assert len(buffer) == 0


def test_batches_respect_event_and_byte_limits() -> None:
    by_events = EventBuffer(capacity=100, batch_events=3, batch_bytes=10_000)
    for n in range(7):
        by_events.add("t", "k", b"%d" % n)
    assert [len(p) for p in payloads(by_events)] == [3, 3, 1]
    by_bytes = EventBuffer(capacity=100, batch_events=100, batch_bytes=25)
    for _ in range(5):
        by_bytes.add("t", "k", b"x" * 10)
    batches = by_bytes.take()
    assert [len(b.events) for b in batches] == [2, 2, 1]
    assert all(len(b.value) <= 25 for b in batches)


def test_a_full_buffer_drops_the_oldest() -> None:
    buffer = EventBuffer(capacity=3, batch_events=10, batch_bytes=10_000)
    dropped = [buffer.add("t", "k", b"%d" % n) for n in range(5)]
    assert dropped == [0, 0, 0, 1, 1]
    assert buffer.dropped == 2
    assert payloads(buffer) == [[b"2", b"3", b"4"]]


def test_put_back_restores_order_and_stays_bounded() -> None:
    buffer = EventBuffer(capacity=4, batch_events=2, batch_bytes=10_000)
    for n in range(4):
        buffer.add("t", "k", b"%d" % n)
    unsent = buffer.take()
    buffer.add("t", "k", b"4")
    assert buffer.put_back(unsent) == 1  # five events, room for four: the oldest goes
    assert payloads(buffer) == [[b"1", b"2"], [b"3", b"4"]]


def test_oldest_age_follows_the_clock() -> None:
    now = [10.0]
    buffer = EventBuffer(capacity=10, batch_events=10, batch_bytes=1000, clock=lambda: now[0])
    assert buffer.oldest_age() == 0.0
    buffer.add("t", "k", b"1")
    now[0] = 12.5
    assert buffer.oldest_age() == 2.5


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        EventBuffer(capacity=0, batch_events=1, batch_bytes=1)
