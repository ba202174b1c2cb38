"""The guard on aiokafka's fetched records (monitor/kafka/patches/undecodable.py): a
record batch that does not decode becomes one placeholder record.

It patches aiokafka's private ``PartitionRecords``; if an aiokafka upgrade changes what
the patch relies on, these tests fail and name the module to look at.
"""

from typing import Any

import pytest
from aiokafka.consumer import fetcher
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from aiokafka.record.memory_records import MemoryRecords
from aiokafka.structs import TopicPartition

from monitor.kafka.patches import undecodable
from tests.unit.patches.private import Patch

PATCH = Patch(undecodable)
GZIP, ZSTD = 1, 4
[AIOKAFKA_RECORDS] = undecodable._GuardedPartitionRecords.__bases__  # install() replaces it


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


def test_aiokafka_still_has_what_the_undecodable_guard_relies_on() -> None:
    known = (AIOKAFKA_RECORDS, undecodable._GuardedPartitionRecords)
    assert PATCH.has(fetcher, "PartitionRecords") in known, PATCH.broken(
        "aiokafka.consumer.fetcher.PartitionRecords is another class"
    )
    PATCH.has(
        AIOKAFKA_RECORDS,
        "__init__",
        (
            "self",
            "tp",
            "records",
            "aborted_transactions",
            "fetch_offset",
            "key_deserializer",
            "value_deserializer",
            "check_crcs",
            "isolation_level",
        ),
    )
    PATCH.uses(fetcher.Fetcher._proc_fetch_request, "PartitionRecords")  # looked up by name
    PATCH.uses(AIOKAFKA_RECORDS._unpack_records, "records.has_next")
    PATCH.uses(AIOKAFKA_RECORDS._unpack_records, "records.next_batch")
    PATCH.uses(AIOKAFKA_RECORDS._unpack_records, "next_batch.validate_crc")
    PATCH.uses(AIOKAFKA_RECORDS._unpack_records, "self.next_fetch_offset")
    PATCH.has(AIOKAFKA_RECORDS, "_consumer_record", ("self", "tp", "record"))
    for field in undecodable._Placeholder._fields:
        PATCH.uses(AIOKAFKA_RECORDS._consumer_record, f"record.{field}")


def _read(records: fetcher.PartitionRecords) -> list[Any]:
    """Every record aiokafka hands over; a failure names the patch."""
    read: list[Any] = []
    with PATCH.running("reading the fetched records"):
        read = list(records)
    return read


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
    got = [(r.offset, r.value, undecodable.undecodable_reason(r.headers)) for r in _read(records)]
    assert got[:3] == [(0, b"v0", None), (1, b"v1", None), (2, b"v2", None)], PATCH.broken(
        f"the records before the undecodable batch came as {got[:3]}"
    )
    assert [(offset, value) for offset, value, _ in got[3:4]] == [(3, None)], PATCH.broken(
        f"the undecodable batch 3-6 came as {got[3:4]}, not one placeholder at offset 3"
    )
    reason, offsets = got[3][2] or ("", "")
    assert (reason.split(":")[0], offsets) == ("UnsupportedCodecError", "3-6"), PATCH.broken(
        f"the placeholder's headers say {got[3][2]}"
    )
    assert got[4:] == [(7, b"v7", None), (8, b"v8", None)], PATCH.broken(
        f"the records after the undecodable batch came as {got[4:]}"
    )
    assert records.next_fetch_offset == 9, PATCH.broken(
        f"the next fetch starts at {records.next_fetch_offset}, not 9"
    )


@pytest.mark.usefixtures("guarded")
def test_a_fetch_from_inside_an_undecodable_batch_is_placed_at_its_position(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import aiokafka.codec

    data = _batch(10, 5, ZSTD)
    monkeypatch.setattr(aiokafka.codec, "has_zstd", lambda: False)
    got = _read(_records(data, fetch_offset=12))
    found = [(r.offset, undecodable.undecodable_reason(r.headers)) for r in got]
    assert [(offset, reason and reason[1]) for offset, reason in found] == [(12, "12-14")], (
        PATCH.broken(f"a fetch from offset 12 of an undecodable batch 10-14 gave {got}")
    )


@pytest.mark.usefixtures("guarded")
def test_decodable_batches_pass_unchanged() -> None:
    data = _batch(0, 2, ZSTD) + _batch(2, 2, 0)
    got = [(r.offset, r.value, r.headers) for r in _read(_records(data))]
    assert got == [(0, b"v0", ()), (1, b"v1", ()), (2, b"v2", ()), (3, b"v3", ())], PATCH.broken(
        f"decodable batches came as {got}"
    )


def test_without_the_guard_aiokafka_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the guard is for: the error that stopped a worker for good."""
    import aiokafka.codec
    from aiokafka.errors import UnsupportedCodecError

    data = _batch(0, 2, ZSTD)
    monkeypatch.setattr(aiokafka.codec, "has_zstd", lambda: False)
    monkeypatch.setattr(fetcher, "PartitionRecords", AIOKAFKA_RECORDS)
    with pytest.raises(UnsupportedCodecError):
        list(_records(data))
