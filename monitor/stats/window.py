"""Hopping windows built from panes: count- or event-time-based, constant memory.

A window of ``size`` tested every ``hop`` is the merge of its last ``size / hop`` panes,
each a mergeable :class:`WindowSummary`; so memory is ``panes x columns x bins`` whatever
the stream length, and a window costs a few array additions, not a pass over events.
"""

import operator
from collections import deque
from collections.abc import Mapping, Sequence
from functools import reduce
from typing import Any, Generic, Protocol, Self, TypeVar

import numpy as np
import numpy.typing as npt

from monitor.settings import WindowSettings
from monitor.stats.calibration import Calibration, ScoreCounts
from monitor.stats.columns import ColumnLayout, ColumnSummary
from monitor.stats.reconstruction import Reconstruction, ReconstructionSummary

__all__ = ["HoppingWindow", "Mergeable", "PaneSplitter", "Segment", "WindowSummary"]

Segment = tuple[int, int, int]
"""``(start, stop, closes)``: events ``[start, stop)`` go in the open pane, then ``closes``
panes end (more than one when event time skips empty panes)."""


class WindowSummary:
    """Features, prediction, event count and event-time span of some of a model's events.

    Examples
    --------
    >>> from monitor.stats.numeric import NumericBins
    >>> from monitor.stats.categorical import CategoricalBins
    >>> layout = ColumnLayout(NumericBins.from_quantiles([], np.empty((0, 0)), 2),
    ...                       CategoricalBins(("c",), (("a",),), ("string",)))
    >>> a, b = WindowSummary(layout, None), WindowSummary(layout, None)
    >>> a.update([{"c": "a"}], [None], [10.0])
    >>> b.update([{"c": "b"}, {"c": "a"}], [None, None], [11.0, 12.0])
    >>> a += b
    >>> a.events, a.start, a.end, a.features.categorical.counts.tolist()
    (3, 10.0, 12.0, [[1, 2]])
    """

    def __init__(
        self,
        features: ColumnLayout,
        prediction: ColumnLayout | None,
        calibration: Calibration | None = None,
        joint: Reconstruction | None = None,
    ) -> None:
        self.features = ColumnSummary(features)
        self.prediction = None if prediction is None else ColumnSummary(prediction)
        self.scores = None if calibration is None else ScoreCounts(calibration)
        self.joint = None if joint is None else ReconstructionSummary(joint)
        self.events = 0
        self.start = float("inf")
        self.end = float("-inf")

    def update(
        self, rows: Sequence[Mapping[str, Any]], predictions: Sequence[Any], ts: Sequence[float]
    ) -> None:
        """Add a batch of events: feature dicts, predictions and event times (seconds)."""
        if not rows:
            return
        self.features.update_rows(rows)
        if self.joint is not None:
            self.joint.update(self.features.last_numeric)
        if self.prediction is not None:
            self.prediction.update_values(predictions)
        if self.scores is not None:
            self.scores.update(predictions)
        self.events += len(rows)
        self.start = min(self.start, min(ts))
        self.end = ts[-1]  # the last event taken: an alert's window.end (docs/architecture.md)

    def __iadd__(self, other: "WindowSummary") -> Self:
        self.features += other.features
        if self.prediction is not None and other.prediction is not None:
            self.prediction += other.prediction
        if self.scores is not None and other.scores is not None:
            self.scores += other.scores
        if self.joint is not None and other.joint is not None:
            self.joint += other.joint
        if other.events:
            self.start = min(self.start, other.start)
            self.end = other.end
        self.events += other.events
        return self

    def copy(self) -> "WindowSummary":
        """An independent copy."""
        result = WindowSummary.__new__(WindowSummary)
        result.features = self.features.copy()
        result.prediction = None if self.prediction is None else self.prediction.copy()
        result.scores = None if self.scores is None else self.scores.copy()
        result.joint = None if self.joint is None else self.joint.copy()
        result.events, result.start, result.end = self.events, self.start, self.end
        return result

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state."""
        state = {
            "features": self.features.to_dict(),
            "prediction": None if self.prediction is None else self.prediction.to_dict(),
            "scores": None if self.scores is None else self.scores.to_dict(),
            "events": self.events,
            "start": self.start if self.events else None,
            "end": self.end if self.events else None,
        }
        if self.joint is not None:
            state["joint"] = self.joint.to_dict()
        return state

    @classmethod
    def from_dict(
        cls,
        features: ColumnLayout,
        prediction: ColumnLayout | None,
        data: dict[str, Any],
        calibration: Calibration | None = None,
        joint: Reconstruction | None = None,
    ) -> "WindowSummary":
        """Inverse of :meth:`to_dict` (state saved without joint errors starts them empty)."""
        result = cls(features, prediction, calibration, joint)
        result.features = ColumnSummary.from_dict(features, data["features"])
        if joint is not None and data.get("joint") is not None:
            result.joint = ReconstructionSummary.from_dict(joint, data["joint"])
        if prediction is not None and data["prediction"] is not None:
            result.prediction = ColumnSummary.from_dict(prediction, data["prediction"])
        if calibration is not None and data.get("scores") is not None:
            result.scores = ScoreCounts.from_dict(calibration, data["scores"])
        result.events = data["events"]
        if result.events:
            result.start, result.end = data["start"], data["end"]
        return result


class PaneSplitter:
    """Cuts a batch of events at pane boundaries.

    Count panes hold ``pane`` events (``window.pane_length``). Time panes cover
    ``[k * pane, (k + 1) * pane)`` seconds of event time; an event older than the open pane
    (late) joins the open pane and is counted in ``late``.

    >>> splitter = PaneSplitter(WindowSettings(size=4, hop=2))
    >>> splitter.split(np.zeros(5))
    [(0, 2, 1), (2, 4, 1), (4, 5, 0)]
    >>> timed = PaneSplitter(WindowSettings(kind="time", size=20, hop=10))
    >>> timed.split(np.array([1.0, 5.0, 12.0, 3.0, 45.0]))
    [(0, 2, 1), (2, 4, 2), (4, 5, 0)]
    >>> timed.split(np.array([61.0]))
    [(0, 0, 2), (0, 1, 0)]
    >>> timed.late
    1
    """

    def __init__(self, settings: WindowSettings) -> None:
        self.settings = settings
        self.filled = 0
        self.pane: int | None = None
        self.late = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state."""
        return {"filled": self.filled, "pane": self.pane, "late": self.late}

    def load(self, data: dict[str, Any]) -> None:
        """Restore the state saved by :meth:`to_dict`."""
        self.filled, self.pane, self.late = data["filled"], data["pane"], data["late"]

    def split(self, ts: npt.NDArray[np.float64]) -> list[Segment]:
        """Segments of the batch, in order."""
        if self.settings.kind == "count":
            return self._split_count(len(ts))
        return self._split_time(ts)

    def _split_count(self, n: int) -> list[Segment]:
        hop = int(self.settings.pane_length)
        segments = []
        start = 0
        while start < n:
            take = min(n - start, hop - self.filled)
            self.filled += take
            closes = 1 if self.filled == hop else 0
            if closes:
                self.filled = 0
            segments.append((start, start + take, closes))
            start += take
        return segments

    def _split_time(self, ts: npt.NDArray[np.float64]) -> list[Segment]:
        if ts.size == 0:
            return []
        raw = np.floor(ts / self.settings.pane_length).astype(np.int64)
        if self.pane is None:
            self.pane = int(raw[0])
        panes = np.maximum.accumulate(np.maximum(raw, self.pane))
        self.late += int(np.count_nonzero(raw < panes))
        limit = self.settings.panes  # skipping more empty panes than a window holds is moot
        segments: list[Segment] = []
        if panes[0] > self.pane:
            segments.append((0, 0, min(int(panes[0]) - self.pane, limit)))
        bounds = (np.flatnonzero(np.diff(panes)) + 1).tolist()
        for start, stop in zip([0, *bounds], [*bounds, len(ts)], strict=True):
            closes = min(int(panes[stop] - panes[start]), limit) if stop < len(ts) else 0
            segments.append((start, stop, closes))
        self.pane = int(panes[-1])
        return segments


class Mergeable(Protocol):
    """A summary that can be copied and added to in place."""

    def copy(self) -> Any: ...

    def __iadd__(self, other: Any) -> Any: ...


T = TypeVar("T", bound=Mergeable)


class HoppingWindow(Generic[T]):
    """The last ``panes`` closed panes; full, they make a window.

    >>> from collections import Counter
    >>> window = HoppingWindow(panes=2)
    >>> [window.push(Counter(n=n)) for n in (1, 2, 3)]
    [None, Counter({'n': 3}), Counter({'n': 5})]
    """

    def __init__(self, panes: int) -> None:
        self.panes: deque[T] = deque(maxlen=panes)

    def push(self, pane: T) -> T | None:
        """Close ``pane``; return the merged window once ``panes`` panes are in."""
        self.append(pane)
        return self.merged()

    def append(self, pane: T) -> None:
        """Close ``pane`` (the oldest leaves once ``panes`` are in)."""
        self.panes.append(pane)

    @property
    def full(self) -> bool:
        """Whether ``panes`` panes are in."""
        return len(self.panes) == self.panes.maxlen

    def merged(self) -> T | None:
        """The window: the merge of the last ``panes`` panes, once they are in."""
        if not self.full:
            return None
        merged: T = reduce(operator.iadd, list(self.panes)[1:], self.panes[0].copy())
        return merged
