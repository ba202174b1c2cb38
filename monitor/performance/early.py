"""Labels that arrive before their prediction, held until it comes, with bounded state.

A label overtakes its prediction when labels are consumed ahead of a backlog of
predictions (after a takeover or a broker pause) or come from a faster pipeline. Such a
label is held, per model, until its prediction arrives: at most
``performance.early_label_ttl`` seconds of event time, measured on the model's
predictions (a label expires once they are that far past the label's own time), and at
most ``performance.max_early_labels`` labels; the oldest go first, and every label that
leaves unmatched is counted.
"""

from collections.abc import Iterable
from itertools import islice
from typing import Any

from schemas.wire import WireLabel, event_seconds

__all__ = ["EarlyLabels"]


class EarlyLabels:
    """One model's labels waiting for their prediction, by ``event_id``, in arrival order.

    Examples
    --------
    >>> early = EarlyLabels(ttl=60.0, max_labels=2)
    >>> early.hold([WireLabel("a", "m", 10.0, True), WireLabel("b", "m", 20.0, False),
    ...             WireLabel("c", "m", 30.0, True)])
    >>> early.evicted, len(early), "a" in early
    (1, 2, False)
    >>> [label.event_id for label in early.take(["c", "b"])]  # in arrival order
    ['b', 'c']
    >>> early.hold([WireLabel("d", "m", 40.0, True)])
    >>> early.expire(now=100.5)  # predictions are 60.5 s past d's time
    >>> early.expired, len(early)
    (1, 0)
    """

    def __init__(self, ttl: float, max_labels: int) -> None:
        if ttl <= 0:
            raise ValueError(f"ttl must be positive, got {ttl}")
        if max_labels < 0:
            raise ValueError(f"max_labels must be 0 or more, got {max_labels}")
        self.ttl = ttl
        self.max_labels = max_labels
        self._held: dict[str, tuple[int, WireLabel]] = {}  # insertion-ordered: oldest first
        self._arrivals = 0  # numbers held labels, to give them back in arrival order
        self.expired = 0
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._held)

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._held

    def hold(self, labels: Iterable[WireLabel]) -> None:
        """Hold ``labels`` until their predictions come; the oldest go past the cap.

        A second label for a prediction already held could never match (the first takes
        the prediction): it is counted expired at once.
        """
        held = self._held
        for label in labels:
            if label.event_id in held:
                self.expired += 1
                continue
            held[label.event_id] = (self._arrivals, label)
            self._arrivals += 1
        overflow = len(held) - self.max_labels
        if overflow > 0:
            for event_id in list(islice(held, overflow)):
                del held[event_id]
            self.evicted += overflow

    def take(self, event_ids: Iterable[str]) -> list[WireLabel]:
        """The held labels of ``event_ids`` (they leave), in the order they arrived."""
        held = self._held
        taken = sorted(held.pop(event_id) for event_id in event_ids if event_id in held)
        return [label for _, label in taken]

    def expire(self, now: float) -> None:
        """Drop labels more than ``ttl`` seconds older than ``now`` (the model's latest
        prediction), oldest arrivals first: a label behind a newer one waits for it."""
        horizon = now - self.ttl
        stale = []
        for event_id, (_, label) in self._held.items():
            if event_seconds(label.ts) >= horizon:
                break
            stale.append(event_id)
        for event_id in stale:
            del self._held[event_id]
        self.expired += len(stale)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state: held labels as ``[event_id, label, ts]`` rows, oldest first,
        and the counts."""
        held = [
            [label.event_id, label.label, event_seconds(label.ts)]
            for _, label in self._held.values()
        ]
        return {"held": held, "expired": self.expired, "evicted": self.evicted}

    @classmethod
    def from_dict(
        cls, model: str, ttl: float, max_labels: int, data: dict[str, Any]
    ) -> "EarlyLabels":
        """Inverse of :meth:`to_dict`, for ``model`` (past a smaller cap, the oldest go)."""
        early = cls(ttl, max_labels)
        early.expired, early.evicted = data["expired"], data["evicted"]
        early.hold(WireLabel(event_id, model, ts, label) for event_id, label, ts in data["held"])
        return early
