"""Join late labels to their predictions, with bounded state.

Predictions wait for their label in insertion order, at most ``performance.label_ttl``
seconds of event time and at most ``performance.max_pending`` of them; the oldest go
first, and every prediction that leaves unlabelled is counted, per model. A label whose
prediction is not waiting is the caller's to hold (see :mod:`monitor.performance.early`).
"""

from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import islice
from operator import itemgetter
from typing import NamedTuple

from monitor.stats.loss import Prediction

__all__ = ["LabelJoin", "Pending"]


class Pending(NamedTuple):
    """A prediction waiting for its label (a tuple of atoms: the GC does not track it)."""

    model: str
    model_version: str
    prediction: Prediction
    ts: float


class LabelJoin:
    """Predictions by ``event_id`` until their label arrives.

    Examples
    --------
    >>> join = LabelJoin(ttl=600.0, max_pending=2)
    >>> join.add((i, Pending("m", "1", 0.9, t)) for i, t in zip("abc", (0.0, 1.0, 2.0)))
    >>> join.evicted["m"], join.match("a", "m"), join.match("c", "m")
    (1, None, Pending(model='m', model_version='1', prediction=0.9, ts=2.0))
    >>> join.expire(now=700.0)
    >>> join.expired, len(join)
    (Counter({'m': 1}), 0)
    """

    def __init__(self, ttl: float, max_pending: int) -> None:
        self.ttl = ttl
        self.max_pending = max_pending
        self._pending: dict[str, Pending] = {}  # insertion-ordered: oldest first
        self.evicted: Counter[str] = Counter()  # model -> predictions dropped at the cap
        self.expired: Counter[str] = Counter()  # model -> predictions dropped after the TTL

    def __len__(self) -> int:
        return len(self._pending)

    def get(self, event_id: str, model: str) -> Pending | None:
        """The prediction ``event_id`` of ``model`` if it still waits (it stays)."""
        pending = self._pending.get(event_id)
        if pending is None or pending[0] != model:
            return None
        return Pending._make(pending)

    def add(self, pending: Iterable[tuple[str, Pending]]) -> None:
        """Hold ``(event_id, prediction)`` pairs until their labels arrive (or expire)."""
        self._pending.update(pending)
        self._evict()

    def add_many(
        self,
        event_ids: Sequence[str],
        models: Sequence[str],
        versions: Sequence[str],
        predictions: Sequence[Prediction],
        ts: Sequence[float],
    ) -> None:
        """:meth:`add` for columns of a batch: the pairs are built by ``zip``, not Python."""
        rows = zip(models, versions, predictions, ts, strict=True)
        self._pending.update(zip(event_ids, rows, strict=True))  # type: ignore[arg-type]
        self._evict()

    def _evict(self) -> None:
        overflow = len(self._pending) - self.max_pending
        if overflow > 0:
            oldest = list(islice(self._pending, overflow))
            self.evicted.update(map(_MODEL, map(self._pending.pop, oldest)))

    def match(self, event_id: str, model: str) -> Pending | None:
        """The prediction ``event_id`` of ``model`` (and forget it), or None."""
        pending = self._pending.get(event_id)
        if pending is None or pending[0] != model:  # a stray label must not eat another's
            return None
        del self._pending[event_id]
        return pending  # a plain tuple when add_many stored it: unpack, or index it

    def expire(self, now: float) -> None:
        """Forget predictions more than ``ttl`` seconds older than ``now``."""
        horizon = now - self.ttl
        stale = []
        for event_id, pending in self._pending.items():
            if pending[3] >= horizon:
                break
            stale.append(event_id)
        self.expired.update(map(_MODEL, map(self._pending.pop, stale)))


_MODEL = itemgetter(0)
