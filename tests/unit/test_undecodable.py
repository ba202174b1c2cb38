"""The guard on aiokafka's fetched records (monitor/kafka/undecodable.py).

It patches aiokafka's private ``PartitionRecords``; if an aiokafka upgrade changes what
the patch relies on, these tests fail and name the module to look at.
"""

import pytest
from aiokafka.consumer import fetcher
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from aiokafka.record.memory_records import MemoryRecords
from aiokafka.structs import TopicPartition

from monitor.kafka import undecodable

PATCH = "monitor/kafka/undecodable.py patches aiokafka.consumer.fetcher.PartitionRecords"
GZIP, ZSTD = 1, 4


def _batch(base_offset: int, count: int, codec: int) -> bytes:
    builder = DefaultRecordBatchBuilder(
        magic=2,
        compression_type=codec,
        is_transactional=0,
        producer_id=-1,
        producer_epoch=-1,
        base_sequence=-1,
        batch_size=1 << 20,
    )
    for i in range(count):
        builder.append(i, timestamp=1_000, key=b"m", value=b"v%d" % (base_offset + i), headers=[])
    data = bytearray(builder.build())
    data[0:8] = base_offset.to_bytes(8, "big")  # the broker assigns offsets
    return bytes(data)


def _records(data: bytes, fetch_offset: int = 0) -> fetcher.PartitionRecords:
    return fetcher.PartitionRecords(
        TopicPartition("t", 0), MemoryRecords(data), [], fetch_offset, None, None, True, 0
    )


@pytest.fixture
def guarded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fetcher, "PartitionRecords", fetcher.PartitionRecords)  # undone after
    undecodable.install()


@pytest.mark.usefixtures("guarded")
def test_an_undecodable_batch_is_one_placeholder_and_is_skipped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import aiokafka.codec

    data = _batch(0, 3, GZIP) + _batch(3, 4, ZSTD) + _batch(7, 2, GZIP)
    monkeypatch.setattr(aiokafka.codec, "has_zstd", lambda: False)
    records = _records(data)
    got = [(r.offset, r.value, undecodable.undecodable_reason(r.headers)) for r in records]
    assert got[:3] == [(0, b"v0", None), (1, b"v1", None), (2, b"v2", None)], PATCH
    offset, value, (reason, offsets) = got[3]  # type: ignore[misc]
    assert (offset, value, offsets) == (3, None, "3-6"), PATCH
    assert reason.startswith("UnsupportedCodecError"), PATCH
    assert got[4:] == [(7, b"v7", None), (8, b"v8", None)], PATCH
    assert records.next_fetch_offset == 9, PATCH


@pytest.mark.usefixtures("guarded")
def test_a_fetch_from_inside_an_undecodable_batch_is_placed_at_its_position(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import aiokafka.codec

    data = _batch(10, 5, ZSTD)
    monkeypatch.setattr(aiokafka.codec, "has_zstd", lambda: False)
    [placeholder] = list(_records(data, fetch_offset=12))
    assert placeholder.offset == 12, PATCH
    assert undecodable.undecodable_reason(placeholder.headers) is not None, PATCH


@pytest.mark.usefixtures("guarded")
def test_decodable_batches_pass_unchanged() -> None:
    data = _batch(0, 2, ZSTD) + _batch(2, 2, 0)
    assert [(r.offset, r.value, r.headers) for r in _records(data)] == [
        (0, b"v0", ()),
        (1, b"v1", ()),
        (2, b"v2", ()),
        (3, b"v3", ()),
    ], PATCH


def test_without_the_guard_aiokafka_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the guard is for: the error that stopped a worker for good."""
    import aiokafka.codec
    from aiokafka.errors import UnsupportedCodecError

    data = _batch(0, 2, ZSTD)
    monkeypatch.setattr(aiokafka.codec, "has_zstd", lambda: False)
    [aiokafka_records] = undecodable._GuardedPartitionRecords.__bases__
    monkeypatch.setattr(fetcher, "PartitionRecords", aiokafka_records)
    with pytest.raises(UnsupportedCodecError):
        list(_records(data))
