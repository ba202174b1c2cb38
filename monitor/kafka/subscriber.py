"""Follow driftline's alerts on Kafka: iterate them, filtered by model, kind and severity.

A subscriber with a ``group_id`` resumes from its group's committed offset (new groups
start at the end, or at the beginning with ``from_start``); without one it reads from
the start or the end as asked and commits nothing. Messages that are not valid alerts
are counted in ``invalid`` and skipped, never raised.

Workers deliver alerts at least once: after a crash an alert can be published again,
with the same ``alert_id``. The subscriber passes each of its last 100,000 ids once
and counts the repeats in ``repeated``.
"""

from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from pydantic import ValidationError

from producers.settings import RECONNECT_BACKOFF_MAX_MS
from schemas import topics as topic_names
from schemas.alerts import Alert, AlertKind, Severity

__all__ = ["AlertFilter", "AlertSubscriber", "broker_address"]

_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}
_REMEMBERED_IDS = 100_000


def broker_address(url: str) -> str:
    """``kafka://host:9092`` (or ``host:9092``) as kafka-python's ``host:9092``.

    >>> broker_address("kafka://localhost:9092,kafka://other:9093")
    'localhost:9092,other:9093'
    """
    return ",".join(part.strip().removeprefix("kafka://") for part in url.split(","))


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
    within a timeout. Use it as a context manager (or call :meth:`close`). Construction
    fails with kafka-python's ``NoBrokersAvailable`` after ``connect_timeout`` seconds
    when no broker answers.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        group_id: str | None = None,
        from_start: bool = False,
        alert_filter: AlertFilter | None = None,
        topics: Sequence[str] = (topic_names.DRIFT_ALERTS, topic_names.DEGRADATION_ALERTS),
        connect_timeout: float = 10.0,
        extra_config: dict[str, Any] | None = None,
    ) -> None:
        from kafka import KafkaConsumer

        self.filter = alert_filter or AlertFilter()
        self.invalid = 0
        self.repeated = 0
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._consumer = KafkaConsumer(
            *topics,
            bootstrap_servers=broker_address(bootstrap_servers).split(","),
            group_id=group_id,
            enable_auto_commit=group_id is not None,
            auto_offset_reset="earliest" if from_start else "latest",
            bootstrap_timeout_ms=int(connect_timeout * 1000),
            reconnect_backoff_max_ms=RECONNECT_BACKOFF_MAX_MS,  # not 30 s after a restart
            **(extra_config or {}),
        )

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
