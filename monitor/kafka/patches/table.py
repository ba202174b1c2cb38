"""Patch: a Faust table written outside an event, to a partition the writer names, and
whose changelog writes can be awaited.

**What Faust does.** Setting or deleting a key of a ``faust.Table`` sends the change
to the table's changelog topic, on the partition of the event being processed (from
the agent's current event; outside one it raises), and does not hand the send's future
back.

**Why driftline changes it.** :class:`~monitor.kafka.state.TableState` checkpoints a
whole micro-batch at once, after it was applied: each model to the partition its
events came from, not the current event's; and a batch is done only once its checkpoint
is on the broker, so the worker awaits every changelog write (:meth:`flush`) before
the batch's offsets become committable.

**Relies on** (checked with faust-streaming 0.15.3 and aiokafka 0.14.0):

- ``faust.Table.on_key_set`` and ``faust.Table.on_key_del``, called by ``table[key] =
  value`` and ``table.pop(key)``, take the partition from
  ``Collection.partition_for_key(key)`` and write with
  ``Collection.send_changelog(partition, key, value, key_serializer,
  value_serializer)``, which returns the send's ``FutureMessage``.

**To drop it.** When Faust tables take a partition per write and return the write's
future (or when checkpoints move to a store of their own), write through that and
delete this module. ``tests/unit/patches/test_table.py`` fails, naming this module, if
an upgrade changes what it relies on.
"""

import asyncio
from typing import Any

import faust

__all__ = ["PartitionedTable"]


class PartitionedTable(faust.Table[bytes, bytes]):
    """A Faust table written through :meth:`put` and :meth:`delete`, each naming the
    changelog partition; :meth:`flush` waits for the writes made so far.

    >>> async def written() -> list[int | None]:
    ...     app = faust.App("example", broker="kafka://localhost:9092")
    ...     table = PartitionedTable(app, name="state", key_type=bytes, value_type=bytes)
    ...     table.put(3, b"model-a", b"{}")
    ...     table.put(1, b"model-b", b"{}")
    ...     table.delete(3, b"model-a")
    ...     return [future.message.partition for future in table.sent]  # not sent yet
    >>> asyncio.run(written())
    [3, 1, 3]
    """

    partition: int | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent: list[Any] = []  # changelog writes not awaited by flush() yet

    def partition_for_key(self, key: Any) -> int | None:
        if self.partition is None:
            raise RuntimeError("the state table is written through put() and delete() only")
        return self.partition

    def put(self, partition: int, key: bytes, value: bytes) -> None:
        """Set ``key`` to ``value``, written to changelog partition ``partition``."""
        self.partition = partition
        try:
            self[key] = value
        finally:
            self.partition = None

    def delete(self, partition: int, key: bytes) -> None:
        """Remove ``key`` (if present), written to changelog partition ``partition``."""
        self.partition = partition
        try:
            self.pop(key, None)
        finally:
            self.partition = None

    def send_changelog(self, *args: Any, **kwargs: Any) -> Any:
        future = super().send_changelog(*args, **kwargs)
        self.sent.append(future)
        return future

    async def flush(self) -> None:
        """Wait until the broker has every changelog write made so far."""
        sent, self.sent = self.sent, []
        await asyncio.gather(*sent)
