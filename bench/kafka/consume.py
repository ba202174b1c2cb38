"""The Kafka benchmark's ceiling: bare kafka-python and aiokafka consumers that read a
topic and decode every value with msgspec."""

import asyncio
import time
from collections.abc import Callable
from typing import Any

import msgspec
from kafka import KafkaConsumer, TopicPartition

from bench.kafka.figures import Sample

__all__ = ["consume_aiokafka", "consume_kafka_python"]


def _count(value: bytes, decode: Callable[[bytes], Any]) -> int:
    """Events in one message value: a JSON object or an array of them."""
    decoded = decode(value)
    return len(decoded) if isinstance(decoded, list) else 1


def consume_kafka_python(bootstrap: str, topic: str, expected: int) -> Sample:
    """A bare ``KafkaConsumer`` reads and decodes the topic; timed from the first
    record returned to the last event decoded."""
    decode = msgspec.json.Decoder().decode
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        events = messages = 0
        started = 0.0
        deadline = time.monotonic() + 300
        while events < expected and time.monotonic() < deadline:
            polled = consumer.poll(timeout_ms=1000)
            if polled and not started:
                started = time.perf_counter()
            for batch in polled.values():
                messages += len(batch)
                for record in batch:
                    events += _count(record.value, decode)
        seconds = time.perf_counter() - started
    finally:
        consumer.close()
    _expect("kafka-python consumer", events, expected)
    return Sample(seconds, events, messages)


def consume_aiokafka(bootstrap: str, topic: str, expected: int) -> Sample:
    """A bare ``AIOKafkaConsumer`` (``getmany``) reads and decodes the topic; timed as
    :func:`consume_kafka_python`."""
    from aiokafka import AIOKafkaConsumer

    decode = msgspec.json.Decoder().decode

    async def run() -> Sample:
        consumer = AIOKafkaConsumer(
            topic,  # without a group id: every partition, from auto_offset_reset
            bootstrap_servers=bootstrap,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            events = messages = 0
            started = 0.0
            deadline = time.monotonic() + 300
            while events < expected and time.monotonic() < deadline:
                polled = await consumer.getmany(timeout_ms=1000)
                if polled and not started:
                    started = time.perf_counter()
                for batch in polled.values():
                    messages += len(batch)
                    for record in batch:
                        assert record.value is not None
                        events += _count(record.value, decode)
            return Sample(time.perf_counter() - started, events, messages)
        finally:
            await consumer.stop()

    sample = asyncio.run(run())
    _expect("aiokafka consumer", sample.events, expected)
    return sample


def _expect(what: str, seen: int, expected: int) -> None:
    if seen != expected:
        raise SystemExit(f"bench: {what} saw {seen:,} events, expected {expected:,}")
