"""Patch: Faust's Kafka producer, idempotent.

**What Faust does.** Faust's aiokafka producer turns on Kafka's idempotence (and
``acks=all``) only inside exactly-once transactions, which driftline does not use (a
transaction is tied to the event being processed, and a micro-batch spans partitions).

**Why driftline changes it.** A send that aiokafka retries after a lost response
would be written twice (a forwarded message, an alert, a checkpoint); with idempotence
the broker keeps it once.

**Relies on** (checked with faust-streaming 0.15.3 and aiokafka 0.14.0):

- ``faust.transport.drivers.aiokafka.Transport.Producer``: the class ``app.transport``
  makes its producer from (:func:`install` sets it on the app's transport);
- ``faust.transport.drivers.aiokafka.Producer._settings_extra()``: keywords that
  ``Producer._new_producer`` passes to ``aiokafka.AIOKafkaProducer`` after its defaults.

**To drop it.** When Faust has a setting for idempotence outside transactions, pass it
to ``faust.App`` and delete this module and its :func:`install` call.
``tests/unit/patches/test_producer.py`` fails, naming this module, if an upgrade
changes what it relies on.
"""

from collections.abc import Mapping
from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka

__all__ = ["IdempotentProducer", "install"]


class IdempotentProducer(faust_aiokafka.Producer):
    """Faust's producer with Kafka's idempotence on: a retried send is not written twice.

    >>> app = faust.App("example", broker="kafka://localhost:9092")
    >>> install(app)
    >>> type(app.producer).__name__, app.producer._settings_extra()["enable_idempotence"]
    ('IdempotentProducer', True)
    """

    def _settings_extra(self) -> Mapping[str, Any]:
        return {"acks": "all", "enable_idempotence": True}


def install(app: faust.App) -> None:
    """Make ``app`` produce with :class:`IdempotentProducer` (before its producer exists)."""
    app.transport.Producer = IdempotentProducer  # type: ignore[misc]
