"""The swappable parts of the monitor, as protocols.

Inside the core, a time is a ``float``: seconds since the epoch, UTC, as event times are
once decoded (:func:`monitor.core.event_times`). Datetimes exist only at the edges: the
events' RFC 3339 strings coming in, the alerts and window summaries going out.
"""

import time
from typing import Protocol

__all__ = ["Clock", "EventTimeClock", "WallClock"]


class Clock(Protocol):
    """Says when an alert was detected."""

    def now(self, event_time: float) -> float:
        """The detection time (epoch seconds) of an alert whose window ended at
        ``event_time``."""
        ...


class EventTimeClock:
    """Event time: replays are deterministic (an alert is detected when its window ends).

    >>> EventTimeClock().now(1795255200.5)
    1795255200.5
    """

    def now(self, event_time: float) -> float:
        return event_time


class WallClock:
    """Processing time, for live engines."""

    def now(self, event_time: float) -> float:
        return time.time()
