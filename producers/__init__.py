"""Producers of driftline events: the SDK services use, and synthetic services.

:class:`DriftlineProducer` sends prediction, label and metric events to Kafka without
blocking the caller; :mod:`producers.synthetic` generates seeded streams with drift.
"""

from producers.producer import DeliveryProblem, DriftlineProducer, ProducerStats
from producers.settings import ProducerSettings

__all__ = ["DeliveryProblem", "DriftlineProducer", "ProducerSettings", "ProducerStats"]
