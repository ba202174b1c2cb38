"""Fixtures giving tests a real Kafka broker.

``kafka_bootstrap`` (session scope) picks the first broker source that works:

1. ``KAFKA_BOOTSTRAP_SERVERS`` from the environment (e.g. after
   ``eval "$(driftline dev kafka start)"``);
2. testcontainers' ``KafkaContainer().with_kraft()``, only when a Docker engine answers;
3. :class:`monitor.dev.kafka.LocalKafka` (Java 17 + Maven, jars from Maven Central).

When none is possible the tests are skipped, or fail when ``CI=true``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest

from monitor.dev.kafka import KafkaUnavailableError, LocalKafka
from tests.kafka.missing import broker_unavailable


def _docker_available() -> bool:
    try:
        import docker

        docker.from_env().ping()
    except Exception:
        return False
    return True


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """``host:port`` of a running Kafka broker for the whole test session."""
    from_env = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if from_env:
        yield from_env
        return

    if _docker_available():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer().with_kraft() as container:
            yield container.get_bootstrap_server()
        return

    broker = LocalKafka()
    try:
        broker.start()
    except KafkaUnavailableError as error:
        broker_unavailable(
            f"KAFKA_BOOTSTRAP_SERVERS is unset, no Docker engine answers, "
            f"and a local broker cannot run: {error}"
        )
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture
def new_topic_name() -> Callable[[], str]:
    """Factory of topic names unique to this test (several topics per test are fine)."""
    base = f"driftline-test-{uuid.uuid4().hex[:12]}"
    counter = iter(range(1_000_000))
    return lambda: f"{base}-{next(counter)}"


@pytest.fixture
def kafka_topic(new_topic_name: Callable[[], str]) -> str:
    """One topic name unique to this test."""
    return new_topic_name()
