"""Join late labels to their predictions, with bounded state.

Predictions wait for their label in insertion order, at most ``performance.label_ttl``
seconds of event time and at most ``performance.max_pending`` of them; the oldest go
first, and every prediction that leaves unlabelled is counted.
"""

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from monitor.performance.loss import Prediction

__all__ = ["LabelJoin", "Pending"]


@dataclass(frozen=True, slots=True)
class Pending:
    """A prediction waiting for its label."""

    model: str
    model_version: str
    prediction: Prediction
    ts: float


class LabelJoin:
    """Predictions by ``event_id`` until their label arrives.

    Examples
    --------
    >>> join = LabelJoin(ttl=600.0, max_pending=2)
    >>> join.add(["a", "b", "c"], [Pending("m", "1", 0.9, t) for t in (0.0, 1.0, 2.0)])
    >>> join.evicted, join.match("a", "m"), join.match("c", "m").prediction
    (1, None, 0.9)
    >>> join.expire(now=700.0)
    >>> join.expired, len(join)
    (1, 0)
    """

    def __init__(self, ttl: float, max_pending: int) -> None:
        self.ttl = ttl
        self.max_pending = max_pending
        self._pending: OrderedDict[str, Pending] = OrderedDict()
        self.evicted = 0
        self.expired = 0
        self.unmatched = 0

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, event_ids: Sequence[str], pending: Sequence[Pending]) -> None:
        """Hold predictions until their labels arrive (or they expire)."""
        self._pending.update(zip(event_ids, pending, strict=True))
        overflow = len(self._pending) - self.max_pending
        for _ in range(max(overflow, 0)):
            self._pending.popitem(last=False)
        self.evicted += max(overflow, 0)

    def match(self, event_id: str, model: str) -> Pending | None:
        """The prediction ``event_id`` of ``model`` (and forget it), or None."""
        pending = self._pending.get(event_id)
        if pending is None or pending.model != model:  # a stray label must not eat another's
            self.unmatched += 1
            return None
        del self._pending[event_id]
        return pending

    def expire(self, now: float) -> None:
        """Forget predictions more than ``ttl`` seconds older than ``now``."""
        horizon = now - self.ttl
        while self._pending:
            oldest = next(iter(self._pending.values()))
            if oldest.ts >= horizon:
                break
            self._pending.popitem(last=False)
            self.expired += 1
