"""Patch: Faust's Kafka consumer, with a short fetch wait, no lost first messages and
driftline's own offset commits.

**What Faust does.** It creates aiokafka's consumer with a fixed
``fetch_max_wait_ms=1500``. At a rebalance it drops the messages it had fetched but not
processed, seeks every partition back to its committed offset (aiokafka's
``seek_to_committed`` does not seek where nothing was committed), and commits the
offsets it acknowledged, past messages it dropped.

**Why driftline changes it.** Three fixes, for the topics the worker's stages consume
(``inputs``: the public input topics and the by-model topics; Faust's own, such as the
table's changelog, keep Faust's behaviour):

- **Fetch wait.** One fetch request is in flight per broker, covering every partition
  with nothing buffered: quiet ones (labels, metrics, changelogs) make it wait the whole
  1.5 s, and a busy partition whose buffer was drained meanwhile waits too. The
  benchmark saw a worker idle in 1-1.5 s gaps, more than half of the time;
  ``kafka.fetch_wait_ms`` (100 ms) keeps it fed.
- **First messages.** On a partition nobody had committed yet, the messages dropped at
  a rebalance were lost: no seek brought them back (seen in tests: labels sent during a
  rebalance; see robinhood/faust#115). Such input partitions are sought to their start:
  checkpoints skip what was already applied.
- **Nothing skipped.** Faust's commits pass messages it dropped (see
  :mod:`monitor.kafka.delivery`). On these topics its read offsets are off (it delivers
  whatever it fetched, the ``sequencer`` admits the next offset only) and the offset
  committed is the ``sequencer``'s: after the batches done, never after what Faust
  acknowledged.

**Relies on** (checked with faust-streaming 0.15.3 and aiokafka 0.14.0):

- ``faust.transport.drivers.aiokafka.Transport.Consumer``: the class ``app.transport``
  makes its consumer from (:func:`install` sets it on the app's transport);
- ``Consumer._new_consumer_thread()``: the consumer's thread, whose
  ``AIOKafkaConsumerThread._create_worker_consumer(transport)`` creates aiokafka's
  consumer, and aiokafka's ``AIOKafkaConsumer._fetch_max_wait_ms``, read by its
  ``start()`` when it creates its fetcher (fetch wait);
- ``Consumer.seek_to_committed()``, called by Faust's ``Consumer.perform_seek`` at each
  assignment, returning the committed offsets (None where there is none), and
  ``Consumer._seek(partition, offset)`` (first messages);
- ``Consumer._read_offset``, the mapping ``Consumer._drain_messages`` reads (with
  ``__getitem__``) to drop fetched messages below a partition's read offset;
  ``Consumer._new_offset(tp)``, the offset ``Consumer._filter_committable_offsets``
  commits; ``Consumer._acked`` and ``Consumer._acked_index``, Faust's acknowledgements
  per partition (nothing skipped).

**To drop it.** Fix by fix: the fetch wait when Faust takes ``fetch_max_wait_ms`` from
a setting (pass it to ``faust.App`` instead); the first messages when aiokafka's
``seek_to_committed`` seeks partitions without a commit to ``auto_offset_reset``;
nothing skipped, with :class:`~monitor.kafka.delivery.Sequencer`, only once Faust
neither drops fetched messages around a rebalance nor commits past them
(``tests/kafka/test_faults.py`` tells). ``tests/unit/patches/test_consumer.py`` fails,
naming this module, if an upgrade changes what it relies on.
"""

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from monitor.kafka.delivery import Sequencer

__all__ = ["consumer_class", "install"]


def install(
    app: faust.App, inputs: frozenset[str], fetch_wait_ms: int, sequencer: Sequencer[TP]
) -> None:
    """Make ``app`` consume with :func:`consumer_class` (before its consumer exists)."""
    app.transport.Consumer = consumer_class(inputs, fetch_wait_ms, sequencer)  # type: ignore[misc]


def consumer_class(
    inputs: frozenset[str], fetch_wait_ms: int, sequencer: Sequencer[TP]
) -> type[faust_aiokafka.Consumer]:
    """Faust's consumer with the three fixes, for the topics ``inputs``."""

    class Thread(faust_aiokafka.AIOKafkaConsumerThread):
        def _create_worker_consumer(self, transport: Any) -> Any:
            consumer = super()._create_worker_consumer(transport)
            consumer._fetch_max_wait_ms = fetch_wait_ms  # read when the consumer starts
            return consumer

    class ReadOffsets(defaultdict[Any, int | None]):
        def __getitem__(self, tp: Any) -> int | None:
            return None if tp.topic in inputs else super().__getitem__(tp)

    class Consumer(faust_aiokafka.Consumer):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._read_offset = ReadOffsets(lambda: None)

        def _new_consumer_thread(self) -> Thread:
            return Thread(self, loop=self.loop, beacon=self.beacon)

        async def seek_to_committed(self) -> Mapping[Any, int]:
            committed: Mapping[Any, int] = await super().seek_to_committed()
            for tp, offset in committed.items():
                if tp.topic in inputs:
                    if not offset:
                        await self._seek(tp, 0)
                    sequencer.start(tp, offset or 0)
            return committed

        def _new_offset(self, tp: Any) -> int | None:
            if tp.topic not in inputs:
                offset: int | None = super()._new_offset(tp)
                return offset
            self._acked[tp].clear()  # Faust's acknowledgements: not used here
            self._acked_index[tp].clear()
            return sequencer.committable(tp)

    return Consumer
