"""Reading test topics back: decoded events, until as many as expected have arrived."""

from collections.abc import Callable
from typing import Any

from kafka import KafkaConsumer


def read_events(
    bootstrap: str,
    topic: str,
    decode: Callable[[bytes], list[Any]],
    expected: int,
    timeout: float = 15.0,
    **config: Any,
) -> list[tuple[bytes | None, list[Any]]]:
    """``(key, decoded events)`` per message of ``topic``, from the start, until
    ``expected`` events arrived or ``timeout`` seconds passed without a message.

    ``config`` goes to the ``KafkaConsumer`` as is: a connection's
    ``kafka_python_options()`` (its ``bootstrap_servers`` are then ``bootstrap``'s)."""
    consumer = KafkaConsumer(
        topic,
        **{"bootstrap_servers": bootstrap}
        | config
        | {"auto_offset_reset": "earliest", "consumer_timeout_ms": int(timeout * 1000)},
    )
    messages: list[tuple[bytes | None, list[Any]]] = []
    seen = 0
    try:
        for record in consumer:
            events = decode(record.value)
            messages.append((record.key, events))
            seen += len(events)
            if seen >= expected:
                break
    finally:
        consumer.close()
    return messages
