"""The Kafka engine: the only part of the monitor that talks to Kafka.

:mod:`monitor.kafka.worker` runs the processing core in Faust workers,
:mod:`monitor.kafka.admin` creates the topics, and
:class:`~monitor.kafka.subscriber.AlertSubscriber` follows the alert topics;
:mod:`monitor.kafka.patches` holds every change the worker makes to Faust and aiokafka
through their private parts, one module per patch. The worker module imports Faust, so
it is not imported here.
"""

from monitor.kafka.subscriber import AlertFilter, AlertSubscriber

__all__ = ["AlertFilter", "AlertSubscriber"]
