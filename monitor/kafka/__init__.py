"""The Kafka engine: the only part of the monitor that talks to Kafka.

So far: :class:`~monitor.kafka.subscriber.AlertSubscriber`, which follows the alert
topics. The Faust workers come next.
"""

from monitor.kafka.subscriber import AlertFilter, AlertSubscriber, broker_address

__all__ = ["AlertFilter", "AlertSubscriber", "broker_address"]
