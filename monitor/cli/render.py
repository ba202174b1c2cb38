"""How the terminal shows an alert: one line, red when firing, green when resolved.

A line reads ``2026-11-27 10:16:41 c2b1a3f4 firing   warning  feature_drift
fraud-scorer/3 amount psi=0.3123 threshold=0.2``: when the alert was detected (UTC), the
first 8 characters of its id, status, severity, kind, model/version, subject, and the
statistic's score against its threshold. Given a width (a terminal's), a line too wide
is abbreviated (``11-27 10:16:41 c2b1a3f4 firing warn feature fraud-scor… amount
psi=0.312 thr=0.2``), then cut, to fit it: one alert is always one line.
"""

import re
from collections.abc import Sequence
from datetime import UTC, datetime

from rich.cells import cell_len
from rich.text import Text

from schemas.alerts import Alert, AlertStatus

__all__ = ["alert_line", "print_alerts", "short_id", "utc"]

_SEVERITY_SHORT = {"info": "info", "warning": "warn", "critical": "crit"}
_KIND_SHORT = {
    "feature_drift": "feature",
    "prediction_drift": "prediction",
    "multivariate_drift": "multivariate",
    "data_quality": "quality",
    "performance_degradation": "performance",
    "estimated_performance_degradation": "est.performance",
    "metric_degradation": "metric",
}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")  # what could break a line
_MIN_NAME_CELLS = 4  # model/version, subject and statistic shrink to no less, then the line is cut


def print_alerts(alerts: Sequence[Alert]) -> None:
    """Print each alert as one plain line."""
    for alert in alerts:
        print(alert_line(alert))


def utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive datetime is taken to be UTC already.

    >>> utc(datetime(2026, 11, 27, 10, 0)).isoformat()
    '2026-11-27T10:00:00+00:00'
    """
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def short_id(alert_id: str) -> str:
    """The first 8 characters of an id (its dashes dropped): enough to tell alerts apart.

    >>> short_id("5f0c2b1e-8a4d-5c6f-9e7a-0b1c2d3e4f50")
    '5f0c2b1e'
    """
    return _printable(alert_id.replace("-", ""))[:8]


def alert_line(alert: Alert, width: int | None = None) -> Text:
    """One alert as one line, at most ``width`` cells wide when a width is given.

    >>> from schemas.alerts import Alert
    >>> alert = Alert(
    ...     alert_id="c2b1a3f4-0000-5000-8000-000000000000", kind="feature_drift",
    ...     status="firing", severity="warning", model="fraud-scorer", model_version="3",
    ...     subject="amount", statistic="psi", score=0.3123, threshold=0.2,
    ...     window={"start": "2026-11-27T10:00:00Z", "end": "2026-11-27T10:16:40Z",
    ...             "events": 1000},
    ...     reference={"id": "fraud-scorer/3/ref-2026-11-01", "events": 50000},
    ...     detected_at="2026-11-27T11:16:41+01:00",
    ... )
    >>> print(alert_line(alert))
    2026-11-27 10:16:41 c2b1a3f4 firing   warning  feature_drift fraud-scorer/3 amount \
psi=0.3123 threshold=0.2
    >>> print(alert_line(alert, width=80))
    11-27 10:16:41 c2b1a3f4 firing warn feature fraud-scor… amount psi=0.312 thr=0.2
    >>> print(alert_line(alert, width=40))
    11-27 10:16:41 c2b1a3f4 firing warn fea…
    """
    style = "red" if alert.status == AlertStatus.FIRING else "green"
    detected = utc(alert.detected_at)
    alert_id = short_id(alert.alert_id)
    names = [_printable(f"{alert.model}/{alert.model_version}"), _printable(alert.subject)]
    statistic = _printable(alert.statistic)
    full = (
        f"{detected:%Y-%m-%d %H:%M:%S} {alert_id} {alert.status.value:8} "
        f"{alert.severity.value:8} {alert.kind.value} {names[0]} {names[1]} "
        f"{statistic}={alert.score:.4g} threshold={alert.threshold:.4g}"
    )
    if width is None or cell_len(full) <= width:
        return Text(full, style=style)
    # too wide for the terminal: abbreviate (no year, no padding, short words, fewer
    # digits), then shrink the names (never the numbers), then cut the line
    kind = _KIND_SHORT.get(alert.kind.value, alert.kind.value)
    head = (
        f"{detected:%m-%d %H:%M:%S} {alert_id} {alert.status.value} "
        f"{_SEVERITY_SHORT[alert.severity.value]} {kind}"
    )
    numbers = f"={alert.score:.3g} thr={alert.threshold:.3g}"
    if alert.subject == alert.statistic:  # accuracy=0.71 says it once
        names.pop()
    names.append(statistic)
    room = width - cell_len(head) - cell_len(numbers) - len(names)
    *shrunk, statistic = [_shrink(n, cap) for n, cap in zip(names, _caps(names, room), strict=True)]
    text = Text(" ".join([head, *shrunk, statistic + numbers]), style=style)
    text.truncate(width, overflow="ellipsis")
    return text


def _printable(text: str) -> str:
    """``text`` with control characters (a newline in a feature name) escaped."""
    return _CONTROL.sub(lambda match: repr(match.group())[1:-1], text)


def _caps(names: list[str], room: int) -> list[int]:
    """Cells each name may keep so that together they fit ``room``: the longest shrink first."""
    cap = max(cell_len(name) for name in names)
    while cap > _MIN_NAME_CELLS and sum(min(cell_len(n), cap) for n in names) > room:
        cap -= 1
    return [min(cell_len(name), cap) for name in names]


def _shrink(name: str, cells: int) -> str:
    if cell_len(name) <= cells:
        return name
    text = Text(name)
    text.truncate(cells, overflow="ellipsis")
    return text.plain
