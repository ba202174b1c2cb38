"""The swappable parts of the monitor, as protocols."""

from datetime import UTC, datetime
from typing import Protocol

from schemas.events import to_datetime

__all__ = ["Clock", "Detector", "EventTimeClock", "WallClock"]


class Clock(Protocol):
    """Says when an alert was detected."""

    def now(self, event_time: float) -> datetime:
        """The detection time of an alert whose window ended at ``event_time``."""
        ...


class Detector(Protocol):
    """An online change detector, as river's: ``update(x)``, then ``drift_detected``."""

    @property
    def drift_detected(self) -> bool:
        """Whether the last update completed a detected change."""
        ...

    def update(self, x: float) -> None:
        """Add one value of the watched stream."""
        ...


class EventTimeClock:
    """Event time: replays are deterministic (an alert is detected when its window ends).

    >>> EventTimeClock().now(0.0).isoformat()
    '1970-01-01T00:00:00+00:00'
    """

    def now(self, event_time: float) -> datetime:
        return to_datetime(event_time)


class WallClock:
    """Processing time, for live engines."""

    def now(self, event_time: float) -> datetime:
        return datetime.now(UTC)
