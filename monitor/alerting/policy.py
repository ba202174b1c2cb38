"""The alert policy: hysteresis, one alert per episode, deterministic ids.

A subject fires after ``policy.fire_after`` consecutive breaching windows (at once when
a finding is ``immediate``) and resolves after ``policy.resolve_after`` consecutive clean
ones. A finding that ``hold``s (below its threshold, above the resolve band) is neither:
it keeps a firing episode open and leaves the count of breaches as it was, so a drift
that hovers around its threshold stays one episode.
Each episode yields exactly one ``firing`` and one ``resolved`` alert. Alert ids
are UUIDv5 of what identifies the alert (model, version, subject, status and the window
that decided it), so re-processing the same events yields the same ids.

Times come in as epoch seconds (:class:`Span`, the clock's detection time); the policy
turns them into datetimes once, when it builds an :class:`~schemas.alerts.Alert`.
"""

import uuid
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

from monitor.findings import Finding
from monitor.settings import PolicySettings
from schemas.alerts import Alert, AlertReference, AlertStatus, AlertWindow, Severity
from schemas.events import to_datetime

__all__ = ["AlertPolicy", "Episode", "Span"]

_NAMESPACE = uuid.UUID("5b0e8f4e-3c8a-4d59-9a51-6d0c2f1e7a10")


class Span(NamedTuple):
    """The events a finding was made on: their earliest and last event times (epoch
    seconds, UTC) and how many there were.

    >>> Span(0.0, 60.0, 2).window()
    AlertWindow(start=datetime.datetime(1970, 1, 1, 0, 0, tzinfo=datetime.timezone.utc), \
end=datetime.datetime(1970, 1, 1, 0, 1, tzinfo=datetime.timezone.utc), events=2)
    """

    start: float
    end: float
    events: int

    def window(self) -> AlertWindow:
        """The span as the ``window`` of an alert or a window summary."""
        return AlertWindow(
            start=to_datetime(self.start), end=to_datetime(self.end), events=self.events
        )


@dataclass
class Episode:
    """Where one subject of one model stands."""

    firing: bool = False
    breaches: int = 0
    clean: int = 0


class AlertPolicy:
    """Turns findings into alerts with hysteresis.

    Examples
    --------
    >>> from schemas.alerts import AlertKind
    >>> policy = AlertPolicy(PolicySettings(fire_after=2, resolve_after=1))
    >>> window = Span(start=1795773600.0, end=1795774200.0, events=1000)  # 10:00-10:10 UTC
    >>> reference = AlertReference(id="m/1/ref-abc", events=20000)
    >>> def observe(breached):
    ...     finding = Finding(AlertKind.FEATURE_DRIFT, "amount", "psi", 0.3, 0.2, breached)
    ...     return policy.observe("m", "1", finding, window, reference, window.end)
    >>> alerts = [observe(b) for b in (True, True, True, False, False)]
    >>> [alert and alert.status.value for alert in alerts]
    [None, 'firing', None, 'resolved', None]
    >>> alerts[1].window.end.isoformat(), alerts[1].detected_at == alerts[1].window.end
    ('2026-11-27T10:10:00+00:00', True)

    A finding that holds (below its threshold, above its resolve band) keeps the episode
    open; only clean ones count towards ``resolve_after``:

    >>> def hold():
    ...     finding = Finding(AlertKind.FEATURE_DRIFT, "amount", "psi", 0.15, 0.2, False, hold=True)
    ...     return policy.observe("m", "1", finding, window, reference, window.end)
    >>> [observe(True), observe(True), hold(), hold(), observe(False)][-1].status.value
    'resolved'
    >>> [observe(True), observe(True), hold(), hold()][1].status.value, policy.firing()
    ('firing', [('m', '1', 'feature_drift', 'amount', '')])
    """

    def __init__(self, settings: PolicySettings) -> None:
        self.settings = settings
        self.episodes: dict[tuple[str, ...], Episode] = {}

    def observe(
        self,
        model: str,
        model_version: str,
        finding: Finding,
        window: Span,
        reference: AlertReference,
        detected_at: float,
    ) -> Alert | None:
        """Record one finding; return the alert it opens or closes, if any.

        ``detected_at`` is in epoch seconds, as the span's times.
        """
        key = (model, model_version, *finding.episode_key)
        episode = self.episodes.get(key)
        if episode is None:
            if not finding.breached:
                return None  # the common case: a quiet subject costs no state
            episode = self.episodes[key] = Episode()
        if finding.breached:
            episode.breaches += 1
            episode.clean = 0
            if not episode.firing and (
                episode.breaches >= self.settings.fire_after or finding.immediate
            ):
                episode.firing = True
                return self._alert(key, AlertStatus.FIRING, finding, window, reference, detected_at)
            return None
        if finding.hold:  # no evidence either way: a firing episode stays, a count goes on
            episode.clean = 0
            return None
        episode.breaches = 0
        episode.clean += 1
        if episode.firing and episode.clean >= self.settings.resolve_after:
            del self.episodes[key]
            return self._alert(key, AlertStatus.RESOLVED, finding, window, reference, detected_at)
        if not episode.firing:
            del self.episodes[key]
        return None

    def firing(self) -> list[tuple[str, ...]]:
        """Keys ``(model, version, kind, subject, check)`` of the episodes now firing."""
        return [key for key, episode in self.episodes.items() if episode.firing]

    @staticmethod
    def _alert(
        key: tuple[str, ...],
        status: AlertStatus,
        finding: Finding,
        span: Span,
        reference: AlertReference,
        detected_at: float,
    ) -> Alert:
        window = span.window()
        identity = "|".join([*key, status.value, window.end.isoformat(), str(window.events)])
        return Alert(
            alert_id=str(uuid.uuid5(_NAMESPACE, identity)),
            kind=finding.kind,
            status=status,
            severity=finding.severity if status == AlertStatus.FIRING else Severity.INFO,
            model=key[0],
            model_version=key[1],
            subject=finding.subject,
            statistic=finding.statistic,
            score=finding.score,
            threshold=finding.threshold,
            p_value=finding.p_value,
            window=window,
            reference=reference,
            detected_at=to_datetime(detected_at),
            details=finding.details,
        )

    def to_dict(self) -> list[dict[str, Any]]:
        """JSON-ready state (for a changelog-backed table)."""
        return [{"key": list(key), **asdict(e)} for key, e in self.episodes.items()]

    def load(self, data: list[dict[str, Any]]) -> None:
        """Restore the state saved by :meth:`to_dict`."""
        self.episodes = {
            tuple(item["key"]): Episode(item["firing"], item["breaches"], item["clean"])
            for item in data
        }
