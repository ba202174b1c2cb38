"""The Kafka benchmark's samples and the arithmetic on them: progress spans,
interpolation, percentiles and latency summaries (pure, no broker)."""

import statistics
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Row", "Sample", "interpolate", "latency_summary", "percentile", "progress_rate"]


@dataclass
class Sample:
    """One timed run: seconds timed, events and messages in them, and what else it saw."""

    seconds: float
    events: int
    messages: int
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        """Events per second."""
        return self.events / self.seconds if self.seconds > 0 else 0.0


@dataclass
class Row:
    """One line of the throughput table and its samples."""

    shape: str
    name: str
    timed: str
    samples: list[Sample] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """Median events/s over runs."""
        return statistics.median(s.rate for s in self.samples)


def progress_rate(points: list[tuple[float, str, int]]) -> tuple[float, float, int] | None:
    """Start, end and events of steady processing, from progress reports.

    ``points`` are ``(time, model, events of that model done)``. The span starts once
    every model has reported and ends at the last report; events are the growth of the
    sum over models of their last reported count. None without such a span.

    >>> progress_rate([(0.0, "a", 500), (0.5, "b", 500), (1.0, "a", 1000),
    ...                (2.5, "b", 2000), (2.5, "a", 1500)])
    (0.5, 2.5, 2500)
    >>> progress_rate([(0.0, "a", 500)]) is None
    True
    """
    models = {model for _, model, _ in points}
    done: dict[str, int] = {}
    start: tuple[float, int] | None = None
    for moment, model, count in sorted(points):
        done[model] = max(done.get(model, 0), count)
        if start is None and len(done) == len(models):
            start = (moment, sum(done.values()))
    if start is None:
        return None
    end = max(moment for moment, _, _ in points)
    if end <= start[0]:
        return None
    return start[0], end, sum(done.values()) - start[1]


def interpolate(samples: list[tuple[float, float]], moment: float) -> float:
    """The value at ``moment`` of a series of ``(time, value)``, linearly interpolated
    (held constant outside it).

    >>> interpolate([(0.0, 1.0), (2.0, 3.0)], 0.5), interpolate([(0.0, 1.0)], 9.0)
    (1.5, 1.0)
    """
    before = [s for s in samples if s[0] <= moment]
    after = [s for s in samples if s[0] > moment]
    if not before or not after:
        return (before or after)[-1 if before else 0][1]
    (t0, v0), (t1, v1) = before[-1], after[0]
    return v0 + (v1 - v0) * (moment - t0) / (t1 - t0)


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ``values``, linearly interpolated.

    >>> percentile([1.0, 2.0, 3.0, 4.0], 50), percentile([5.0], 99)
    (2.5, 5.0)
    """
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def latency_summary(seconds: list[float]) -> dict[str, float | int]:
    """Count, p50, p90, p99 and max (milliseconds), and the medians of the first and
    last fifth (in order of publication) to show a worker falling behind.

    >>> latency_summary([0.1, 0.2, 0.3, 0.4, 0.5])["p50"]
    300.0
    """
    ms = [s * 1000 for s in seconds]
    fifth = max(len(ms) // 5, 1)
    return {
        "samples": len(ms),
        "p50": percentile(ms, 50),
        "p90": percentile(ms, 90),
        "p99": percentile(ms, 99),
        "max": max(ms),
        "first_fifth_p50": statistics.median(ms[:fifth]),
        "last_fifth_p50": statistics.median(ms[-fifth:]),
    }
