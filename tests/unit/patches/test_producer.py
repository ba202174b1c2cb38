"""The producer patch (monitor/kafka/patches/producer.py): Faust's producer, idempotent."""

import asyncio

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka

from monitor.kafka.patches import producer
from tests.unit.patches.private import Patch

PATCH = Patch(producer)


def test_faust_still_has_what_the_producer_patch_relies_on() -> None:
    base = faust_aiokafka.Producer
    assert PATCH.has(faust_aiokafka.Transport, "Producer") is base, PATCH.broken(
        "faust's aiokafka Transport.Producer is no longer faust_aiokafka.Producer"
    )
    PATCH.has(base, "_settings_extra", ("self",))
    PATCH.uses(base._new_producer, "self._settings_extra")


def test_faust_makes_an_idempotent_aiokafka_producer(app: faust.App) -> None:
    producer.install(app)

    async def idempotent() -> tuple[bool, int]:
        made = app.producer
        assert type(made) is app.transport.Producer, PATCH.broken(
            f"Faust made its producer from {type(made)}, not from app.transport.Producer"
        )
        kafka = made._new_producer()  # what Faust starts (not connected yet)
        await kafka.client.close()
        return kafka._txn_manager is not None, kafka._sender._acks

    with PATCH.running("making Faust's producer and aiokafka's"):
        made = asyncio.run(idempotent())
    assert made == (True, -1), PATCH.broken(
        "aiokafka's producer, as Faust makes it, is not idempotent with acks=all"
    )
