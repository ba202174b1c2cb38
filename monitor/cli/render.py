"""How the terminal shows an alert: one line, red when firing, green when resolved."""

from collections.abc import Sequence

from rich.text import Text

from schemas.alerts import Alert, AlertStatus

__all__ = ["alert_line", "print_alerts"]


def print_alerts(alerts: Sequence[Alert]) -> None:
    """Print each alert as one plain line."""
    for alert in alerts:
        print(alert_line(alert))


def alert_line(alert: Alert) -> Text:
    """``10:16:40 firing   warning  fraud-scorer feature_drift amount psi=0.310 (...)``."""
    style = "red" if alert.status == AlertStatus.FIRING else "green"
    return Text(
        f"{alert.window.end:%H:%M:%S} {alert.status.value:8} {alert.severity.value:8} "
        f"{alert.model} {alert.kind.value} {alert.subject} {alert.statistic}="
        f"{alert.score:.3f} (threshold {alert.threshold:.3f})",
        style=style,
    )
