"""The Kafka benchmark's broker and topics: which broker, admin and offset look-ups,
reading a topic to its end."""

import contextlib
import os
import time
from collections.abc import Iterator
from typing import NamedTuple

from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError

from bench.cli import log
from monitor.dev.kafka import KAFKA_VERSION, LocalKafka
from schemas import topics

__all__ = ["Cluster", "Record", "kafka_broker", "read_records"]


@contextlib.contextmanager
def kafka_broker() -> Iterator[tuple[str, str]]:
    """``(bootstrap, description)``: ``KAFKA_BOOTSTRAP_SERVERS``, or a local broker."""
    given = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if given:
        yield given, f"Kafka at {given} (KAFKA_BOOTSTRAP_SERVERS; version not checked)"
        return
    log(f"starting a local Kafka {KAFKA_VERSION} broker (monitor.dev.kafka.LocalKafka)")
    with LocalKafka() as broker:
        yield broker.bootstrap, f"Apache Kafka {KAFKA_VERSION} (local KRaft, 1 broker)"


class Cluster:
    """Admin and offset look-ups on one broker; deletes the run's topics on close."""

    def __init__(self, bootstrap: str, token: str) -> None:
        self.bootstrap = bootstrap
        self.token = token
        self.admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        self.consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)

    def create_topics(self, suffix: str, partitions: int) -> None:
        """Every driftline topic with ``suffix``, as the worker would create them."""
        new = [NewTopic(name + suffix, partitions, 1) for name in topics.ALL_TOPICS]
        self.admin.create_topics(new)
        deadline = time.monotonic() + 30
        while not all(self.partitions(topic.name) for topic in new):
            if time.monotonic() > deadline:
                raise SystemExit(f"bench: topics with suffix {suffix} did not appear")
            time.sleep(0.1)

    def partitions(self, topic: str) -> list[TopicPartition]:
        """The topic's partitions (empty while it is unknown)."""
        found = self.consumer.partitions_for_topic(topic) or set()
        return [TopicPartition(topic, p) for p in sorted(found)]

    def end_offsets(self, topic: str) -> dict[int, int]:
        """Partition → offset of the next message."""
        ends = self.consumer.end_offsets(self.partitions(topic))
        return {tp.partition: offset for tp, offset in ends.items()}

    def committed(self, group: str, topic: str) -> dict[int, int]:
        """Partition → offset committed by ``group`` (0 where none yet)."""
        parts = self.partitions(topic)
        try:
            found = self.admin.list_group_offsets({group: parts}).get(group, {})
        except KafkaError:
            return {}
        return {tp.partition: max(found[tp].offset, 0) if found.get(tp) else 0 for tp in parts}

    def close(self) -> None:
        """Delete the topics of this run (Faust's changelogs included), close clients."""
        try:
            mine = [t for t in self.admin.list_topics() if self.token in t]
            if mine:
                self.admin.delete_topics(mine)
        except KafkaError as error:
            log(f"could not delete the run's topics: {error}")
        finally:
            self.consumer.close()
            self.admin.close()


class Record(NamedTuple):
    """What the benchmark keeps of a consumed message."""

    timestamp: int
    key: bytes | None
    value: bytes


def read_records(
    bootstrap: str, topic: str, start: dict[int, int] | None = None, timeout: float = 60.0
) -> list[Record]:
    """The topic's messages from ``start`` (default: the beginning) to its end offsets at
    the call, partition after partition."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        ends = consumer.end_offsets(parts)
        consumer.assign(parts)
        for tp in parts:
            consumer.seek(tp, (start or {}).get(tp.partition, 0))
        records: list[Record] = []
        deadline = time.monotonic() + timeout
        while any(consumer.position(tp) < ends[tp] for tp in parts):
            if time.monotonic() > deadline:
                raise SystemExit(f"bench: could not read {topic} to its end")
            for batch in consumer.poll(timeout_ms=1000).values():
                records += [Record(r.timestamp, r.key, r.value) for r in batch]
        return records
    finally:
        consumer.close()
