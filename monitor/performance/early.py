"""Labels that arrive before their prediction, held until it comes, with bounded state.

A label overtakes its prediction when labels are consumed ahead of a backlog of
predictions (after a takeover or a broker pause) or come from a faster pipeline. Such a
label is held, per model, until its prediction arrives: at most
``performance.early_label_ttl`` seconds of event time, measured on the model's
predictions (a label expires once they are that far past the label's own time), and at
most ``performance.max_early_labels`` labels; the oldest go first, and every label that
leaves unmatched is counted.

A label is held with its event time in epoch seconds, as the core decoded it once.
"""

from collections.abc import Iterable
from itertools import islice
from typing import Any

from schemas.wire import WireLabel

__all__ = ["EarlyLabels"]


class EarlyLabels:
    """One model's labels waiting for their prediction, by ``event_id``, in arrival order.

    Examples
    --------
    >>> early = EarlyLabels(ttl=60.0, max_labels=2)
    >>> labels = [WireLabel(i, "m", t, True) for i, t in (("a", 10.0), ("b", 20.0), ("c", 30.0))]
    >>> early.hold(labels, [10.0, 20.0, 30.0])
    >>> early.evicted, len(early), "a" in early
    (1, 2, False)
    >>> [(label.event_id, t) for label, t in early.take(["c", "b"])]  # in arrival order
    [('b', 20.0), ('c', 30.0)]
    >>> early.hold([WireLabel("d", "m", 40.0, True)], [40.0])
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
        # event id -> (arrival, label, event time), insertion-ordered: oldest first
        self._held: dict[str, tuple[int, WireLabel, float]] = {}
        self._arrivals = 0  # numbers held labels, to give them back in arrival order
        self.expired = 0
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._held)

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._held

    def hold(self, labels: Iterable[WireLabel], ts: Iterable[float]) -> None:
        """Hold ``labels``, whose event times are ``ts`` (epoch seconds), until their
        predictions come; the oldest go past the cap.

        A second label for a prediction already held could never match (the first takes
        the prediction): it is counted expired at once.
        """
        held = self._held
        for label, t in zip(labels, ts, strict=True):
            if label.event_id in held:
                self.expired += 1
                continue
            held[label.event_id] = (self._arrivals, label, t)
            self._arrivals += 1
        overflow = len(held) - self.max_labels
        if overflow > 0:
            for event_id in list(islice(held, overflow)):
                del held[event_id]
            self.evicted += overflow

    def take(self, event_ids: Iterable[str]) -> list[tuple[WireLabel, float]]:
        """The held labels of ``event_ids`` (they leave) and their event times, in the
        order they arrived."""
        held = self._held
        taken = sorted(held.pop(event_id) for event_id in event_ids if event_id in held)
        return [(label, t) for _, label, t in taken]

    def expire(self, now: float) -> None:
        """Drop labels more than ``ttl`` seconds older than ``now`` (the model's latest
        prediction), oldest arrivals first: a label behind a newer one waits for it."""
        horizon = now - self.ttl
        stale = []
        for event_id, (_, _, t) in self._held.items():
            if t >= horizon:
                break
            stale.append(event_id)
        for event_id in stale:
            del self._held[event_id]
        self.expired += len(stale)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state: held labels as ``[event_id, label, ts]`` rows, oldest first,
        and the counts."""
        held = [[label.event_id, label.label, t] for _, label, t in self._held.values()]
        return {"held": held, "expired": self.expired, "evicted": self.evicted}

    @classmethod
    def from_dict(
        cls, model: str, ttl: float, max_labels: int, data: dict[str, Any]
    ) -> "EarlyLabels":
        """Inverse of :meth:`to_dict`, for ``model`` (past a smaller cap, the oldest go)."""
        early = cls(ttl, max_labels)
        early.expired, early.evicted = data["expired"], data["evicted"]
        rows = data["held"]
        early.hold(
            (WireLabel(event_id, model, t, label) for event_id, label, t in rows),
            (t for _, _, t in rows),
        )
        return early
