"""The Kafka clients driftline uses work against the test broker.

Covers what the engine needs from kafka-python 3.x and aiokafka 0.14: idempotent
produce (acks=all), consume in a group, list offsets, create and describe topics.
"""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin import NewTopic as AIONewTopic
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka import TopicPartition as KafkaTopicPartition

pytestmark = pytest.mark.kafka

MESSAGES = [(f"key-{i}".encode(), f"value-{i}".encode()) for i in range(5)]


def test_kafka_python_round_trip(kafka_bootstrap: str, kafka_topic: str) -> None:
    """Idempotent producer to an auto-created topic, then a group consumer reads it all."""
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True)
    try:
        for key, value in MESSAGES:
            producer.send(kafka_topic, key=key, value=value).get(timeout=30)
        producer.flush(timeout=30)
    finally:
        producer.close(timeout=10)

    consumer = KafkaConsumer(
        kafka_topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=f"{kafka_topic}-group",
        auto_offset_reset="earliest",
        consumer_timeout_ms=15_000,
    )
    try:
        received = []
        for record in consumer:
            received.append((record.key, record.value))
            if len(received) == len(MESSAGES):
                break
        partition = KafkaTopicPartition(kafka_topic, 0)
        end_offsets = consumer.end_offsets([partition])
        beginning_offsets = consumer.beginning_offsets([partition])
    finally:
        consumer.close()

    assert received == MESSAGES
    assert end_offsets == {partition: len(MESSAGES)}
    assert beginning_offsets == {partition: 0}


def test_aiokafka_round_trip(kafka_bootstrap: str, kafka_topic: str) -> None:
    """aiokafka admin creates the topic; producer and group consumer round-trip it."""

    async def scenario() -> tuple[list[tuple[bytes | None, bytes | None]], dict[object, int]]:
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        await admin.start()
        try:
            await admin.create_topics(
                [AIONewTopic(name=kafka_topic, num_partitions=1, replication_factor=1)]
            )
        finally:
            await admin.close()

        producer = AIOKafkaProducer(
            bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True
        )
        await producer.start()
        try:
            for key, value in MESSAGES:
                await producer.send_and_wait(kafka_topic, value=value, key=key)
        finally:
            await producer.stop()

        consumer = AIOKafkaConsumer(
            kafka_topic,
            bootstrap_servers=kafka_bootstrap,
            group_id=f"{kafka_topic}-group",
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            received: list[tuple[bytes | None, bytes | None]] = []
            async with asyncio.timeout(30):
                async for record in consumer:
                    received.append((record.key, record.value))
                    if len(received) == len(MESSAGES):
                        break
            end_offsets: dict[object, int] = await consumer.end_offsets(
                [TopicPartition(kafka_topic, 0)]
            )
        finally:
            await consumer.stop()
        return received, end_offsets

    received, end_offsets = asyncio.run(scenario())

    assert received == MESSAGES
    assert end_offsets == {TopicPartition(kafka_topic, 0): len(MESSAGES)}


def test_admin_creates_topic_with_three_partitions(kafka_bootstrap: str, kafka_topic: str) -> None:
    """kafka-python's admin client creates a 3-partition topic and describes it."""
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        admin.create_topics(
            {kafka_topic: {"num_partitions": 3, "replication_factor": 1}},
            wait_for_metadata=True,
        )
        (described,) = admin.describe_topics([kafka_topic])
    finally:
        admin.close()

    assert described["name"] == kafka_topic
    assert sorted(p["partition_index"] for p in described["partitions"]) == [0, 1, 2]
