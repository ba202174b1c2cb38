"""Follow driftline's alerts on Kafka: iterate them, filtered by model, kind and severity.

A subscriber with a ``group_id`` resumes from its group's committed offset (new groups
start at the end, or at the beginning with ``from_start``); without one it reads from
the start or the end as asked and commits nothing. Messages that are not valid alerts
are counted in ``invalid`` and skipped, never raised.

Workers deliver alerts at least once: after a crash an alert can be published again,
with the same ``alert_id``. The subscriber passes each of its last 100,000 ids once
and counts the repeats in ``repeated``.

:meth:`AlertSubscriber.read_to_end` reads what the topics hold now (up to the end
offsets of the partitions assigned to it) and returns it in time order across topics;
Kafka orders messages only within a partition.
"""

import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition
from kafka.errors import KafkaTimeoutError
from pydantic import ValidationError

from schemas import topics as topic_names
from schemas.alerts import Alert, AlertKind, Severity
from schemas.connection import RECONNECT_BACKOFF_MAX_MS, KafkaConnection

__all__ = ["AlertFilter", "AlertSubscriber", "in_time_order"]

_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}
_REMEMBERED_IDS = 100_000


def in_time_order(alerts: Iterable[Alert]) -> list[Alert]:
    """``alerts`` sorted by ``detected_at`` (a naive time taken as UTC), then ``alert_id``.

    >>> from datetime import timedelta
    >>> now = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    >>> def make(alert_id, minutes):
    ...     return Alert(alert_id=alert_id, kind="feature_drift", status="firing",
    ...                  severity="warning", model="m", model_version="1", subject="x",
    ...                  statistic="psi", score=0.3, threshold=0.2,
    ...                  window={"start": now, "end": now, "events": 1},
    ...                  reference={"id": "r", "events": 1},
    ...                  detected_at=now + timedelta(minutes=minutes))
    >>> [a.alert_id for a in in_time_order([make("c", 5), make("b", 1), make("a", 5)])]
    ['b', 'a', 'c']
    """

    def key(alert: Alert) -> tuple[datetime, str]:
        detected = alert.detected_at
        utc = detected.replace(tzinfo=UTC) if detected.tzinfo is None else detected
        return utc, alert.alert_id

    return sorted(alerts, key=key)


@dataclass(frozen=True)
class AlertFilter:
    """Which alerts to keep: empty sets keep all; ``min_severity`` keeps that and above.

    >>> alert_filter = AlertFilter(models=frozenset({"fraud-scorer"}), min_severity="warning")
    >>> alert_filter.min_severity
    <Severity.WARNING: 'warning'>
    """

    models: frozenset[str] = field(default_factory=frozenset)
    kinds: frozenset[AlertKind] = field(default_factory=frozenset)
    min_severity: Severity | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kinds", frozenset(AlertKind(k) for k in self.kinds))
        if self.min_severity is not None:
            object.__setattr__(self, "min_severity", Severity(self.min_severity))

    def keeps(self, alert: Alert) -> bool:
        """Whether ``alert`` passes."""
        if self.models and alert.model not in self.models:
            return False
        if self.kinds and alert.kind not in self.kinds:
            return False
        if self.min_severity is None or alert.status == "resolved":
            return True  # a resolution always follows the alert it ends
        return _RANK[alert.severity] >= _RANK[self.min_severity]


class AlertSubscriber:
    """Alerts from the alert topics, as :class:`~schemas.alerts.Alert` models.

    Iterating blocks and yields alerts as they arrive; :meth:`poll` returns what came
    within a timeout; :meth:`read_to_end` what the topics hold now. Use it as a context
    manager (or call :meth:`close`). ``broker`` is a broker URL (plaintext) or a
    :class:`~schemas.connection.KafkaConnection` (such as the ``kafka`` settings), with
    its security settings; ``extra_config`` goes to kafka-python's ``KafkaConsumer``.
    Construction fails with kafka-python's ``NoBrokersAvailable`` after
    ``connect_timeout`` seconds when no broker answers.
    """

    def __init__(
        self,
        broker: str | KafkaConnection,
        *,
        group_id: str | None = None,
        from_start: bool = False,
        alert_filter: AlertFilter | None = None,
        topics: Sequence[str] = (topic_names.DRIFT_ALERTS, topic_names.DEGRADATION_ALERTS),
        connect_timeout: float = 10.0,
        extra_config: dict[str, Any] | None = None,
    ) -> None:
        self.filter = alert_filter or AlertFilter()
        self.invalid = 0
        self.repeated = 0
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._connect_timeout = connect_timeout
        self._joined = _Joined()
        connection = KafkaConnection(broker=broker) if isinstance(broker, str) else broker
        options = connection.kafka_python_options() | {
            "group_id": group_id,
            "enable_auto_commit": group_id is not None,
            "auto_offset_reset": "earliest" if from_start else "latest",
            "bootstrap_timeout_ms": int(connect_timeout * 1000),
            "reconnect_backoff_max_ms": RECONNECT_BACKOFF_MAX_MS,  # not 30 s after a restart
        }
        self._consumer = KafkaConsumer(**options | (extra_config or {}))
        for topic in topics:  # known before the group's first join, so that it is assigned
            self._consumer.partitions_for_topic(topic)
        self._consumer.subscribe(topics=list(topics), listener=self._joined)

    def poll(self, timeout: float = 1.0) -> list[Alert]:
        """Alerts that arrived within ``timeout`` seconds, in order per partition."""
        records = self._consumer.poll(timeout_ms=int(timeout * 1000))
        alerts = []
        for batch in records.values():
            for record in batch:
                try:
                    alert = Alert.model_validate_json(record.value)
                except ValidationError:
                    self.invalid += 1
                    continue
                if self._repeats(alert.alert_id):
                    self.repeated += 1
                elif self.filter.keeps(alert):
                    alerts.append(alert)
        return alerts

    def read_to_end(self) -> list[Alert]:
        """The alerts up to the end offsets the assigned partitions have now, in time order.

        Returns as soon as every assigned partition is read to its end offset (at once
        when the topics are empty); what arrives meanwhile is left for :meth:`poll`.
        Topics that do not exist (and are not created on first use) have no partitions
        to wait for after ``connect_timeout`` seconds. Raises kafka-python's
        ``KafkaTimeoutError`` when reading makes no progress for ``connect_timeout``
        seconds (no broker answers).
        """
        alerts: list[Alert] = []
        deadline = time.monotonic() + self._connect_timeout
        while not self._assigned() and time.monotonic() < deadline:
            alerts += self.poll(timeout=0.1)
        timeout_ms = int(self._connect_timeout * 1000)
        ends: dict[TopicPartition, int] = self._consumer.end_offsets(
            list(self._consumer.assignment()), timeout_ms=timeout_ms
        )
        behind = self._behind(ends)
        progress_at = time.monotonic()
        while behind:
            alerts += self.poll(timeout=0.1)
            now_behind = self._behind(ends)
            if now_behind != behind:
                behind, progress_at = now_behind, time.monotonic()
            elif time.monotonic() - progress_at > self._connect_timeout:
                lag = ", ".join(f"{tp.topic}[{tp.partition}]: {n}" for tp, n in behind.items())
                raise KafkaTimeoutError(
                    f"no progress for {self._connect_timeout:g} s; messages left: {lag}"
                )
        return in_time_order(alerts)

    def _assigned(self) -> bool:
        """Whether the partitions to read are known: the group's assignment came, or
        (without a group) every subscribed topic has its partitions."""
        subscribed = self._consumer.subscription() or set()
        covered = {tp.topic for tp in self._consumer.assignment()}
        return self._joined.done or covered >= subscribed

    def _behind(self, ends: dict[TopicPartition, int]) -> dict[TopicPartition, int]:
        """Messages left before each end offset, for the partitions still assigned."""
        assigned = self._consumer.assignment()
        left = {}
        for partition, end in ends.items():
            if partition not in assigned:
                continue  # moved to another member of the group meanwhile
            position = self._consumer.position(partition, timeout_ms=100)
            if position is None or position < end:
                left[partition] = end if position is None else end - position
        return left

    def _repeats(self, alert_id: str) -> bool:
        if alert_id in self._seen:
            return True
        self._seen[alert_id] = None
        if len(self._seen) > _REMEMBERED_IDS:
            self._seen.popitem(last=False)
        return False

    def __iter__(self) -> Iterator[Alert]:
        while True:
            yield from self.poll()

    def close(self) -> None:
        """Leave the group (committing its offsets) and close the connection."""
        self._consumer.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class _Joined(ConsumerRebalanceListener):  # type: ignore[misc]
    """Notes that the group gave this member its partitions (possibly none)."""

    def __init__(self) -> None:
        self.done = False

    def on_partitions_revoked(self, revoked: Any) -> None:
        self.done = False

    def on_partitions_assigned(self, assigned: Any) -> None:
        self.done = True
