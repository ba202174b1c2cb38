"""The pacing patch (monitor/kafka/patches/pacing.py): aiokafka's failed metadata
updates wait ``retry_backoff_ms`` before they return."""

import asyncio
import inspect
import time

from aiokafka.client import AIOKafkaClient

from monitor.kafka.patches import pacing
from tests.unit.patches.private import Patch

PATCH = Patch(pacing)


def test_aiokafka_still_has_what_the_pacing_patch_relies_on() -> None:
    pacing.install()
    params = ("self", "cluster_metadata", "topics")
    update = inspect.unwrap(PATCH.has(AIOKafkaClient, "_metadata_update", params))
    assert update.__module__ == "aiokafka.client", PATCH.broken(
        f"the metadata update the patch wraps comes from {update.__module__}"
    )
    assert inspect.iscoroutinefunction(update), PATCH.broken(
        "AIOKafkaClient._metadata_update is no longer a coroutine function"
    )
    PATCH.uses(AIOKafkaClient._md_synchronizer, "self._metadata_update")


def test_a_failed_metadata_update_waits_the_retry_backoff() -> None:
    pacing.install()

    async def update() -> tuple[bool, float, float]:
        client = AIOKafkaClient(bootstrap_servers="127.0.0.1:9", retry_backoff_ms=300)
        backoff = PATCH.has(client, "_retry_backoff")
        synchronizer = asyncio.create_task(client._md_synchronizer())  # bootstrap()'s
        started = time.monotonic()
        updated = await client.force_metadata_update()  # no broker known: fails at once
        waited = time.monotonic() - started
        synchronizer.cancel()
        await client.close()
        return updated, waited, backoff

    with PATCH.running("a metadata update without a broker"):
        updated, waited, backoff = asyncio.run(update())
    assert backoff == 0.3, PATCH.broken(f"AIOKafkaClient._retry_backoff is {backoff}, not 0.3 s")
    assert updated is False, PATCH.broken("a metadata update with no broker succeeded")
    assert waited >= 0.3, PATCH.broken(
        f"a failed metadata update returned after {waited:.3f} s, before the 0.3 s "
        "retry backoff: aiokafka would retry in a busy loop while the broker is down"
    )
