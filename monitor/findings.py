"""A finding: one test of one subject on one window, breached or not.

Drift tests, quality checks and performance tests all produce findings; the alert
policy turns a run of breached findings into one firing alert, and a run of clean ones
into its resolution. A finding that is not breached but still above its test's resolve
band (``hold``) is not clean: it keeps an open episode open, so a drift that hovers
around its threshold gives one episode, not a page per crossing.
"""

from dataclasses import dataclass, field
from typing import Any

from schemas.alerts import AlertKind, Severity

__all__ = ["Finding"]

_PER_STATISTIC = frozenset({AlertKind.DATA_QUALITY, AlertKind.MULTIVARIATE_DRIFT})


@dataclass(frozen=True, slots=True)
class Finding:
    """The outcome of one test.

    >>> f = Finding(AlertKind.DATA_QUALITY, "age", "missing_rate", 0.3, 0.12, breached=True)
    >>> f.episode_key, f.severity
    (('data_quality', 'age', 'missing_rate'), <Severity.WARNING: 'warning'>)
    """

    kind: AlertKind
    subject: str
    statistic: str
    score: float
    threshold: float
    breached: bool
    severity: Severity = Severity.WARNING
    p_value: float | None = None
    details: dict[str, Any] = field(default_factory=dict)
    immediate: bool = False
    """Fire without waiting for ``policy.fire_after`` windows (a test calibrated on its
    own, or a detector's confirmation)."""
    hold: bool = False
    """Not breached, but above the resolve band: an open episode stays open."""
    resolve_below: float | None = None
    """The score below which an open episode may resolve (None: ``policy.resolve_band``
    of the threshold)."""

    @property
    def episode_key(self) -> tuple[str, str, str]:
        """What an alert episode is about: one per drifting subject, whatever test saw it;
        one per quality check, since a feature can have several quality problems at once,
        and one per multivariate statistic (drifting share, reconstruction error)."""
        check = self.statistic if self.kind in _PER_STATISTIC else ""
        return (self.kind.value, self.subject, check)
