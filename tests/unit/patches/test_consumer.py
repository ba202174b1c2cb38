"""The consumer patch (monitor/kafka/patches/consumer.py): Faust's consumer with a short
fetch wait, the first messages of partitions nobody committed, and driftline's commits.

No broker: Faust builds its consumer, its thread and aiokafka's consumer without
connecting. What needs one (the seek at an assignment, commits reaching the broker) is
covered by tests/kafka (test_worker.py, test_faults.py)."""

import asyncio

import aiokafka
import faust
from faust.transport import consumer as faust_consumer
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from monitor.kafka.delivery import Sequencer
from monitor.kafka.patches import consumer
from tests.unit.patches.private import Patch

PATCH = Patch(consumer)
INPUT, OTHER = TP("input", 0), TP("input-changelog", 0)  # a stage's topic, Faust's own


def test_faust_and_aiokafka_still_have_what_the_consumer_patch_relies_on() -> None:
    base = faust_aiokafka.Consumer
    thread = faust_aiokafka.AIOKafkaConsumerThread
    assert PATCH.has(faust_aiokafka.Transport, "Consumer") is base, PATCH.broken(
        "faust's aiokafka Transport.Consumer is no longer faust_aiokafka.Consumer"
    )
    # fetch wait
    PATCH.has(base, "_new_consumer_thread", ("self",))
    PATCH.has(thread, "_create_worker_consumer", ("self", "transport"))
    PATCH.uses(thread._create_consumer, "self._create_worker_consumer")
    PATCH.uses(aiokafka.AIOKafkaConsumer.start, "self._fetch_max_wait_ms")
    # first messages
    PATCH.has(base, "seek_to_committed", ("self",))
    PATCH.uses(faust_consumer.Consumer.perform_seek, "self.seek_to_committed")
    PATCH.has(base, "_seek", ("self", "partition", "offset"))
    # nothing skipped
    PATCH.uses(faust_consumer.Consumer._drain_messages, "self._read_offset.__getitem__")
    PATCH.has(base, "_new_offset", ("self", "tp"))
    PATCH.uses(faust_consumer.Consumer._filter_committable_offsets, "self._new_offset")
    PATCH.uses(faust_consumer.Consumer.ack, "self._acked")
    PATCH.uses(faust_consumer.Consumer.ack, "self._acked_index")


def test_faust_makes_the_patched_consumer_with_the_short_fetch_wait(app: faust.App) -> None:
    consumer.install(app, frozenset({INPUT.topic}), 40, Sequencer())

    async def fetch_wait() -> int:
        made = app.consumer
        assert type(made) is app.transport.Consumer, PATCH.broken(
            f"Faust made its consumer from {type(made)}, not from app.transport.Consumer"
        )
        kafka = made._thread._create_consumer(asyncio.get_running_loop())
        await kafka.stop()  # never started: closes its client
        wait: int = kafka._fetch_max_wait_ms
        return wait

    with PATCH.running("making Faust's consumer and aiokafka's"):
        wait = asyncio.run(fetch_wait())
    assert wait == 40, PATCH.broken(
        "aiokafka's consumer kept Faust's fetch_max_wait_ms (1,500 ms), not the patch's"
    )


def test_the_patched_consumer_reads_every_offset_of_the_inputs(app: faust.App) -> None:
    consumer.install(app, frozenset({INPUT.topic}), 40, Sequencer())

    async def read_offsets() -> tuple[int | None, int | None]:
        offsets = app.consumer._read_offset
        offsets.update({INPUT: 7, OTHER: 7})  # what Faust's perform_seek does
        return offsets[INPUT], offsets[OTHER]

    with PATCH.running("reading Faust's read offsets"):
        offsets = asyncio.run(read_offsets())
    assert offsets == (None, 7), PATCH.broken(
        "Faust's read offsets of the input topics are not ignored: it would drop "
        "messages below them"
    )


def test_the_patched_consumer_commits_the_sequencers_offsets(app: faust.App) -> None:
    sequencer: Sequencer[TP] = Sequencer()
    consumer.install(app, frozenset({INPUT.topic}), 40, sequencer)
    sequencer.start(INPUT, 0)
    for offset in range(5):
        sequencer.admit(INPUT, offset)
    sequencer.done({INPUT: 5})  # offsets 0-4 applied and durable

    async def committable() -> tuple[dict[TP, int], list[int]]:
        made = app.consumer
        for tp in (INPUT, OTHER):  # Faust acknowledged 0-9 (as its ack() records them)
            made._acked[tp].extend(range(10))
            made._acked_index[tp].update(range(10))
        offsets = made._filter_committable_offsets([INPUT, OTHER])
        return offsets, made._acked[INPUT]

    with PATCH.running("taking the offsets Faust would commit"):
        offsets, acked = asyncio.run(committable())
    assert offsets == {INPUT: 5, OTHER: 10}, PATCH.broken(
        f"Faust would commit {offsets}; the patch wants the sequencer's 5 for the input "
        "topic and Faust's own 10 for others"
    )
    assert acked == [], PATCH.broken("Faust's acknowledgements of the inputs are kept")
