"""The embedded engine's in-process bus: topics as synchronous fan-out.

The processors subscribe to topics named as on Kafka (:mod:`schemas.topics`), so the
data flow is the same on both engines; here a publish calls every subscriber at once.
"""

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["Handler", "InMemoryBus"]

Handler = Callable[[Sequence[Any]], None]


class InMemoryBus:
    """Topics whose subscribers are called in subscription order.

    >>> bus = InMemoryBus()
    >>> seen = []
    >>> bus.subscribe("driftline.drift-alerts", seen.extend)
    >>> bus.publish("driftline.drift-alerts", ["a", "b"])
    >>> seen, bus.published["driftline.drift-alerts"]
    (['a', 'b'], 2)
    >>> bus.subscribed("driftline.drift-alerts"), bus.subscribed("driftline.feature-stats")
    (True, False)
    """

    def __init__(self) -> None:
        self._handlers: defaultdict[str, list[Handler]] = defaultdict(list)
        self.published: Counter[str] = Counter()

    def subscribe(self, topic: str, handler: Handler) -> None:
        """Call ``handler`` with every batch published on ``topic``."""
        self._handlers[topic].append(handler)

    def subscribed(self, topic: str) -> bool:
        """Whether anything subscribes to ``topic`` (so that what it would get is worth
        building)."""
        return bool(self._handlers.get(topic))

    def publish(self, topic: str, items: Sequence[Any]) -> None:
        """Deliver a batch to the topic's subscribers (nothing happens for an empty one)."""
        if not items:
            return
        self.published[topic] += len(items)
        for handler in self._handlers[topic]:
            handler(items)
