"""Caps on what one monitor holds: models, versions per model, metric names per version.

Every new model, version or metric name costs state (windows, a reference built from
its first events, trackers) and, on Kafka, a checkpoint. A producer that puts a request
id in the model name, a build number in the version or a user id in a metric name would
grow them without bound. :class:`Limits` keeps them under ``limits.*``: first come,
first held; an event of anything past a cap is refused (the engines dead-letter it with
the reason, which names the setting to raise) and counted, per model when the model is
held, and in a warning logged at the 1st, 10th, 100th, ... refusal of each kind.

Nothing held is ever dropped: a model, version or metric stays until the process ends
(or, on Kafka, the worker hands its partition over).
"""

import logging
from collections import Counter
from collections.abc import Iterable
from typing import Any

from monitor.settings import LimitSettings

__all__ = ["Limits"]

log = logging.getLogger("driftline.limits")

_SETTING = {
    "model_limit": "limits.max_models",
    "version_limit": "limits.max_versions",
    "metric_limit": "limits.max_metrics",
}


class Limits:
    """Which models, versions and metric names a monitor holds, and what it refused.

    Examples
    --------
    >>> limits = Limits(LimitSettings(max_models=1, max_versions=2))
    >>> limits.admit("a", "1"), limits.admit("a", "2"), limits.admit("a", "1")
    (None, None, None)
    >>> limits.admit("a", "3")
    "version_limit: 'a' version '3' would be its version 3, over limits.max_versions (2)"
    >>> limits.admit("b", "1")
    "model_limit: 'b' would be model 2 of this process, over limits.max_models (1)"
    >>> limits.refuse("a", "version_limit", 5, "...")
    >>> limits.to_dict("a"), limits.versions("a")
    ({'versions_refused': 5, 'metrics_refused': 0}, ['1', '2'])
    """

    def __init__(self, settings: LimitSettings) -> None:
        self.settings = settings
        self._held: dict[str, dict[str, list[str]]] = {}  # model -> version -> metric names
        self._refused: dict[str, Counter[str]] = {}  # held model -> problem -> events
        self.refused: Counter[str] = Counter()  # problem -> events, every model

    def holds(self, model: str) -> bool:
        """Whether ``model`` is held."""
        return model in self._held

    def model_refusal(self, model: str) -> str | None:
        """Why an event of ``model`` is refused: None when the model is held or could be."""
        held = len(self._held)
        if model in self._held or held < self.settings.max_models:
            return None
        return (
            f"model_limit: {model!r} would be model {held + 1:,} of this process, "
            f"over limits.max_models ({self.settings.max_models:,})"
        )

    def versions(self, model: str) -> list[str]:
        """The versions of ``model`` held, first come first."""
        return list(self._held.get(model, ()))

    def metrics(self, model: str, version: str) -> list[str]:
        """The metric names of a model version held, first come first."""
        return list(self._held.get(model, {}).get(version, ()))

    def admit(self, model: str, version: str) -> str | None:
        """Hold a model version if the caps allow; else the reason it is refused."""
        versions = self._held.get(model)
        if versions is None:
            reason = self.model_refusal(model)
            if reason is not None:
                return reason
            versions = self._held[model] = {}
        if version not in versions:
            if len(versions) >= self.settings.max_versions:
                return (
                    f"version_limit: {model!r} version {version!r} would be its version "
                    f"{len(versions) + 1:,}, over limits.max_versions "
                    f"({self.settings.max_versions:,})"
                )
            versions[version] = []
        return None

    def admit_metric(self, model: str, version: str, name: str) -> str | None:
        """Hold a metric of a model version if the caps allow; else the reason it is refused."""
        reason = self.admit(model, version)
        if reason is not None:
            return reason
        names = self._held[model][version]
        if name not in names:
            if len(names) >= self.settings.max_metrics:
                return (
                    f"metric_limit: metric {name!r} of {model!r} version {version!r} would be "
                    f"its metric {len(names) + 1:,}, over limits.max_metrics "
                    f"({self.settings.max_metrics:,})"
                )
            names.append(name)
        return None

    def refuse(self, model: str, problem: str, events: int, reason: str) -> None:
        """Count ``events`` refused for ``problem`` (a reason's prefix), and log now and then."""
        before = self.refused[problem]
        self.refused[problem] = after = before + events
        if model in self._held:
            self._refused.setdefault(model, Counter())[problem] += events
        if len(str(before)) < len(str(after)) or before == 0:  # 1st, 10th, 100th, ...
            log.warning(
                "events refused by %s so far: %s; the last: %s",
                _SETTING.get(problem, problem),
                f"{after:,}",
                reason,
            )

    def to_dict(self, model: str) -> dict[str, int]:
        """The counts of a held model's refused events, JSON-ready."""
        refused = self._refused.get(model, Counter())
        return {
            "versions_refused": refused["version_limit"],
            "metrics_refused": refused["metric_limit"],
        }

    def load(
        self,
        model: str,
        versions: Iterable[str],
        metrics: Iterable[tuple[str, str]],
        data: dict[str, Any] | None,
    ) -> None:
        """Hold a model restored from a checkpoint, whatever the caps (some monitor held
        it before), with its versions, ``(version, metric)`` names and refusal counts."""
        held = self._held[model] = {}
        for version in versions:
            held.setdefault(version, [])
        for version, name in metrics:
            names = held.setdefault(version, [])
            if name not in names:
                names.append(name)
        counts = data or {}
        self._refused[model] = Counter(
            {
                "version_limit": counts.get("versions_refused", 0),
                "metric_limit": counts.get("metrics_refused", 0),
            }
        )
