"""Patch: aiokafka's fetched records, so that a record batch a worker cannot decode
costs one dead letter, never a crash loop.

**What aiokafka does.** aiokafka decompresses a fetched record batch while the
consumer hands its records over. A batch it cannot decode (a codec whose library is
missing, a codec id it does not know, a payload that does not decompress) raises out of
``getmany``: the Faust worker crashes, and a restarted worker fetches the same
uncommitted batch and crashes again, so monitoring stops for every model on that
partition.

**Why driftline changes it.** :func:`install` makes aiokafka hand such a batch over as
one record without key or value, at the batch's first offset still to be read, carrying
the reason and the batch's offsets in the headers :data:`UNDECODABLE` and
:data:`OFFSETS`; the worker dead-letters it (topic, partition, offsets, reason) and the
fetch position moves past the batch. A batch whose CRC does not match is left to
aiokafka, which fetches it again (a corrupt transfer, not a poison batch).

**Relies on** (checked with faust-streaming 0.15.3 and aiokafka 0.14.0):

- ``aiokafka.consumer.fetcher.PartitionRecords(tp, records, aborted_transactions,
  fetch_offset, key_deserializer, value_deserializer, check_crcs, isolation_level)``,
  looked up by its module name when the ``Fetcher`` unpacks a fetch response, so
  :func:`install` replaces it in ``aiokafka.consumer.fetcher``; its
  ``next_fetch_offset``;
- the records it is given (``has_next()``, ``next_batch()``) and their batches
  (``validate_crc()``, ``base_offset``, ``next_offset``, ``first_timestamp``, iterated
  for records);
- ``PartitionRecords._consumer_record(tp, record)`` reads a record's ``offset``,
  ``timestamp``, ``timestamp_type``, ``key``, ``value``, ``checksum`` and ``headers``.

**To drop it.** When aiokafka hands an undecodable batch over without raising (or
skips it with an error the worker can catch per batch), dead-letter from that and
delete this module's :func:`install` (keep the header helpers for the worker).
``tests/unit/patches/test_undecodable.py`` fails, naming this module, if an upgrade
changes what it relies on.
"""

from collections.abc import Iterator
from typing import Any, NamedTuple

from aiokafka.consumer import fetcher

__all__ = ["OFFSETS", "UNDECODABLE", "install", "undecodable_reason"]

UNDECODABLE = "driftline-undecodable"
"""Header of a placeholder record: why its batch could not be decoded."""

OFFSETS = "driftline-offsets"
"""Header of a placeholder record: ``first-last`` offsets of the batch it stands for."""


class _Placeholder(NamedTuple):
    """What aiokafka reads of a record (``PartitionRecords._consumer_record``)."""

    offset: int
    timestamp: int
    timestamp_type: int
    key: None
    value: None
    checksum: None
    headers: list[tuple[str, bytes]]


class _DecodedBatch:
    """A batch whose records are already decoded; the rest is the batch's."""

    def __init__(self, batch: Any, records: list[Any]) -> None:
        self._batch = batch
        self._records = iter(records)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._batch, name)

    def validate_crc(self) -> bool:
        return True  # checked before decoding (aiokafka's batches refuse a second check)

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        return next(self._records)


class _GuardedRecords:
    """aiokafka's fetched records, each batch decoded whole before it is handed over."""

    def __init__(self, records: Any, owner: "_GuardedPartitionRecords") -> None:
        self._records = records
        self._owner = owner

    def has_next(self) -> bool:
        return bool(self._records.has_next())

    def next_batch(self) -> Any:
        batch = self._records.next_batch()
        if batch is None or not batch.validate_crc():  # (aiokafka's batches want it first)
            return batch  # aiokafka raises CorruptRecordException and fetches again
        try:
            return _DecodedBatch(batch, list(batch))
        except Exception as error:
            first = max(batch.base_offset, self._owner.next_fetch_offset)
            reason = f"{type(error).__name__}: {error}"
            headers = [
                (UNDECODABLE, reason.encode()),
                (OFFSETS, f"{first}-{batch.next_offset - 1}".encode()),
            ]
            stamp = getattr(batch, "first_timestamp", -1)
            placeholder = _Placeholder(first, stamp, 0, None, None, None, headers)
            return _DecodedBatch(batch, [placeholder])


class _GuardedPartitionRecords(fetcher.PartitionRecords):  # type: ignore[misc]
    def __init__(self, tp: Any, records: Any, *args: Any) -> None:
        super().__init__(tp, _GuardedRecords(records, self), *args)


def install() -> None:
    """Guard every aiokafka consumer of this process (idempotent)."""
    fetcher.PartitionRecords = _GuardedPartitionRecords


def undecodable_reason(headers: Any) -> tuple[str, str] | None:
    """``(reason, "first-last")`` of a placeholder record's headers, else None.

    >>> undecodable_reason([(UNDECODABLE, b"UnsupportedCodecError: lz4"), (OFFSETS, b"7-9")])
    ('UnsupportedCodecError: lz4', '7-9')
    >>> undecodable_reason([("trace", b"x")]) is None
    True
    """
    found = dict(headers or ())
    reason = found.get(UNDECODABLE)
    if reason is None:
        return None
    return bytes(reason).decode(errors="replace"), bytes(found.get(OFFSETS, b"")).decode()
