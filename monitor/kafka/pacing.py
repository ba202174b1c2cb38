"""Pace aiokafka's metadata retries while the broker is down.

aiokafka 0.14's clients ask for metadata again the moment a request fails: while a
partition has no leader (after a broker's controlled shutdown) its fetcher keeps
forcing an update, and with the broker down each update fails at once (connection
refused). Measured on a restarted broker (tests/kafka/test_restart.py, 30 s down), one
of two workers made about 2,000 attempts a second, used 73% of a core and logged two
error lines per attempt. A failed update that waits the client's ``retry_backoff_ms``
(100 ms) before it returns holds every such caller back: about 18 attempts a second per
worker, 6% of a core, and the same recovery once the broker is back.
"""

import asyncio
from typing import Any

__all__ = ["pace_metadata_retries"]


def pace_metadata_retries() -> None:
    """Make a failed metadata update of every aiokafka client in this process wait
    ``retry_backoff_ms`` before it returns False. Calling it again changes nothing.

    >>> pace_metadata_retries()
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

    AIOKafkaClient._metadata_update = paced_metadata_update
