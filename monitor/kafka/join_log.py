"""A worker's log lines about its models' label joins.

A worker has no summary at the end: when a model loses labels or predictions in the join
(held labels expired or evicted, predictions dropped unlabelled), :class:`JoinLog` logs
one warning with the model's counts, so a broken label pipeline shows in the log. A
model's first loss is logged at once, later ones at most every ``every`` seconds (wall
clock), so a pipeline that stays broken adds a line per model per period, not one per
micro-batch. A model that never had a label is not logged: its predictions are expected
to leave unlabelled.
"""

import logging
import math
import time
from collections.abc import Callable

from monitor.core import Monitor

__all__ = ["JoinLog"]

Losses = tuple[int, int, int, int]


class JoinLog:
    """Logs each model whose label join lost something since its last line.

    Examples
    --------
    >>> import sys
    >>> from monitor.settings import MonitorSettings
    >>> from schemas.wire import WireLabel
    >>> logger = logging.getLogger("driftline.example")
    >>> logger.addHandler(logging.StreamHandler(sys.stdout))
    >>> logger.propagate = False
    >>> log = JoinLog(logger, every=0.0)
    >>> monitor = Monitor(MonitorSettings(performance={"max_early_labels": 1}))
    >>> _ = monitor.process_labels([WireLabel("a", "m", 0.0, 1), WireLabel("b", "m", 1.0, 0)])
    >>> log.update(monitor)
    label join of model m: labels 0 matched, 1 held, 1 unmatched (0 expired, 1 evicted); \
predictions unlabelled 0 expired, 0 evicted
    >>> log.update(monitor)  # nothing new
    """

    def __init__(
        self,
        logger: logging.Logger,
        every: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.every = every
        self.clock = clock
        self._logged: dict[str, tuple[Losses, float]] = {}  # model -> last line's losses, time

    def update(self, monitor: Monitor) -> None:
        """Log the models of ``monitor`` whose losses changed since their last line.

        Called after every micro-batch: it reads counters, a few integers per model that
        had labels, and builds a line only for a model it logs.
        """
        now = self.clock()
        join, early = monitor.join, monitor.early
        for model in sorted(set(early) | set(monitor.labels_matched)):
            held = early.get(model)
            losses = (
                0 if held is None else held.expired,
                0 if held is None else held.evicted,
                join.expired[model],
                join.evicted[model],
            )
            logged, at = self._logged.get(model, ((0, 0, 0, 0), -math.inf))
            if losses == logged or now < at + self.every:
                continue
            self._logged[model] = (losses, now)
            summary = monitor.label_join(model).summary()
            self.logger.warning("label join of model %s: %s", model, summary)
