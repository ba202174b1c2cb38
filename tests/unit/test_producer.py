"""The producer without a broker: validation in the caller, no connection until used,
bounded memory and reported drops while Kafka is unreachable."""

import time

import pytest
from pydantic import ValidationError

from producers.producer import DeliveryProblem, DriftlineProducer
from producers.settings import ProducerSettings

UNREACHABLE = "127.0.0.1:1"  # nothing listens on port 1


def test_invalid_events_raise_in_the_caller() -> None:
    producer = DriftlineProducer(broker=UNREACHABLE)
    with pytest.raises(ValidationError, match="model"):
        producer.send_prediction("bad model!", {"x": 1.0})
    with pytest.raises(ValidationError, match="features"):
        producer.send_prediction("m", {"x": [1, 2]})  # type: ignore[dict-item]
    with pytest.raises(ValidationError, match="value"):
        producer.send_metric("m", "latency_ms", float("nan"))
    assert producer.stats.queued == 0


def test_no_connection_and_no_thread_until_the_first_event() -> None:
    producer = DriftlineProducer(broker=UNREACHABLE)
    assert producer._thread is None
    assert producer._kafka is None
    assert producer.close(timeout=0)  # nothing was queued: nothing lost


def test_keywords_override_a_settings_object() -> None:
    settings = ProducerSettings(broker="a:1", batch_events=7)
    producer = DriftlineProducer(settings, batch_events=3)
    assert (producer.settings.broker, producer.settings.batch_events) == ("a:1", 3)


def test_an_outage_fills_the_buffer_drops_the_oldest_and_reports() -> None:
    problems: list[DeliveryProblem] = []
    producer = DriftlineProducer(broker=UNREACHABLE, buffer_events=10, on_error=problems.append)
    started = time.monotonic()
    ids = [producer.send_prediction("m", {"x": float(i)}) for i in range(25)]
    assert time.monotonic() - started < 1.0, "sending must not wait for Kafka"
    assert len(set(ids)) == 25
    assert producer.stats.queued == 25
    assert producer.stats.dropped >= 15
    assert not producer.close(timeout=0.5)
    assert producer.stats.sent == 0
    assert producer.stats.dropped + producer.stats.failed == 25
    kinds = {p.kind for p in problems}
    assert "dropped" in kinds
    assert sum(p.events for p in problems if p.kind == "dropped") == producer.stats.dropped
    with pytest.raises(RuntimeError, match="closed"):
        producer.send_label("m", ids[0], True)


def test_events_handed_to_kafka_python_wait_for_the_broker_and_never_expire() -> None:
    """An expired batch stalls kafka-python's idempotent producer for good
    (tests/kafka/test_restart.py); ``extra_config`` may still set a timeout."""
    assert ProducerSettings().kafka_config()["delivery_timeout_ms"] == 2**31 - 1
    settings = ProducerSettings(extra_config={"delivery_timeout_ms": 60_000})
    assert settings.kafka_config()["delivery_timeout_ms"] == 60_000
