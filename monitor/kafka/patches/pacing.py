"""Patch: aiokafka's metadata retries, paced while the broker is down.

**What aiokafka does.** aiokafka 0.14's clients ask for metadata again the moment a
request fails: while a partition has no leader (after a broker's controlled shutdown)
its fetcher keeps forcing an update, and with the broker down each update fails at
once (connection refused).

**Why driftline changes it.** Measured on a restarted broker
(tests/kafka/test_restart.py, 30 s down), one of two workers made about 2,000 attempts
a second, used 73% of a core and logged two error lines per attempt. A failed update
that waits the client's ``retry_backoff_ms`` (100 ms) before it returns holds every
such caller back: about 18 attempts a second per worker, 6% of a core, and the same
recovery once the broker is back.

**Relies on** (checked with faust-streaming 0.15.3 and aiokafka 0.14.0):

- ``aiokafka.client.AIOKafkaClient._metadata_update(cluster_metadata, topics)``, a
  coroutine that returns False when no broker answered, called as
  ``self._metadata_update`` by ``AIOKafkaClient._md_synchronizer`` (the task behind
  ``force_metadata_update``, which the fetcher calls in a loop);
- ``AIOKafkaClient._retry_backoff``: ``retry_backoff_ms`` in seconds.

**To drop it.** When aiokafka backs off between failed metadata updates itself (run
tests/kafka/test_restart.py and watch a worker's CPU while the broker is down), delete
this module and its :func:`install` call. ``tests/unit/patches/test_pacing.py`` fails,
naming this module, if an upgrade changes what it relies on.
"""

import asyncio
from typing import Any

__all__ = ["install"]


def install() -> None:
    """Make a failed metadata update of every aiokafka client in this process wait
    ``retry_backoff_ms`` before it returns False. Calling it again changes nothing.

    >>> install()
    >>> from aiokafka.client import AIOKafkaClient
    >>> AIOKafkaClient._metadata_update.__name__
    'paced_metadata_update'
    """
    from aiokafka.client import AIOKafkaClient

    update = AIOKafkaClient._metadata_update
    if update.__name__ == "paced_metadata_update":
        return

    async def paced_metadata_update(self: Any, cluster_metadata: Any, topics: Any) -> bool:
        updated: bool = await update(self, cluster_metadata, topics)
        if not updated:
            await asyncio.sleep(self._retry_backoff)
        return updated

    paced_metadata_update.__wrapped__ = update  # type: ignore[attr-defined]  # aiokafka's
    AIOKafkaClient._metadata_update = paced_metadata_update
