"""The table patch (monitor/kafka/patches/table.py): a Faust table written to the
partition the writer names, its changelog writes awaitable."""

import asyncio

import faust
from faust.tables.base import Collection

from monitor.kafka.patches import table
from monitor.kafka.patches.table import PartitionedTable
from tests.unit.patches.private import Patch

PATCH = Patch(table)


def test_faust_still_has_what_the_table_patch_relies_on() -> None:
    PATCH.has(Collection, "partition_for_key", ("self", "key"))
    PATCH.has(
        Collection,
        "send_changelog",
        ("self", "partition", "key", "value", "key_serializer", "value_serializer"),
    )
    for hook in (faust.Table.on_key_set, faust.Table.on_key_del):
        PATCH.uses(hook, "self.partition_for_key")
        PATCH.uses(hook, "self.send_changelog")


def test_writes_go_to_the_named_changelog_partition(app: faust.App) -> None:
    async def written() -> tuple[list[int | None], list[bytes | None], dict[bytes, bytes]]:
        """The partitions and values of the changelog writes, and the table's data."""
        state = PartitionedTable(app, name="state", key_type=bytes, value_type=bytes, partitions=4)
        with PATCH.running("writing the table"):  # (Faust's partition_for_key raises)
            state.put(3, b"model-a", b"{}")
            state.put(1, b"model-b", b"{}")
            state.delete(3, b"model-a")
        assert all(isinstance(future, asyncio.Future) for future in state.sent), PATCH.broken(
            "send_changelog no longer returns a future flush() can await"
        )
        sent = [future.message for future in state.sent]  # sends Faust has buffered
        return [m.partition for m in sent], [m.value for m in sent], dict(state.data)

    partitions, values, data = asyncio.run(written())
    assert partitions == [3, 1, 3], PATCH.broken(
        f"the changelog writes went to partitions {partitions}, not those put() and "
        "delete() named (3, 1, 3)"
    )
    assert values == [b"{}", b"{}", None], PATCH.broken(
        f"the changelog writes carried {values}: two values and a deletion expected"
    )
    assert data == {b"model-b": b"{}"}, PATCH.broken(f"the table holds {data}")


def test_a_write_that_names_no_partition_is_refused(app: faust.App) -> None:
    state = PartitionedTable(app, name="state", key_type=bytes, value_type=bytes)
    raised: Exception | None = None
    try:
        state[b"model"] = b"{}"
    except Exception as error:
        raised = error
    assert isinstance(raised, RuntimeError), PATCH.broken(
        f"a write that names no partition raised {raised!r}, not the patch's RuntimeError"
    )
