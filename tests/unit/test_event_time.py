"""Event time through the core: RFC 3339 times with any offset in, the same instants out.

The core keeps times as epoch seconds and makes datetimes only for the public models,
so an alert's window and detection time must be the triggering events' times to the
microsecond, whatever offset the events were written with, and its id must not move.
"""

import random
from datetime import UTC, datetime, timedelta, timezone

import msgspec

from monitor.core import Monitor
from monitor.settings import MonitorSettings
from schemas.alerts import Alert, AlertKind
from schemas.wire import decode_label_lines, decode_metric_lines, decode_prediction_lines

SETTINGS = MonitorSettings(
    window={"size": 200, "hop": 100},
    reference={"warmup_events": 300},
    policy={"fire_after": 1, "resolve_after": 1},
    performance={"window": 100, "hop": 50, "baseline_events": 150, "detector": "none"},
    metrics={"baseline": 20, "window": 5},
)
START = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
OFFSETS = [timezone(timedelta(hours=h, minutes=m)) for h, m in ((5, 30), (-3, 0), (0, 0), (14, 0))]
EVENTS = 1_200


def _times(seed: int, n: int) -> list[datetime]:
    """``n`` increasing instants with microseconds, each written in one of four offsets."""
    rng = random.Random(seed)
    t, out = START, []
    for i in range(n):
        t += timedelta(seconds=1, microseconds=rng.randrange(1, 1_000_000))
        out.append(t.astimezone(OFFSETS[i % len(OFFSETS)]))
    return out


def _lines(items: list[dict[str, object]]) -> bytes:
    return b"".join(msgspec.json.encode(item) + b"\n" for item in items)


def _run() -> tuple[list[Alert], dict[datetime, int], dict[datetime, int], dict[datetime, int]]:
    """Predictions (drift from event 700), labels (wrong from label 600) and metrics (up
    from value 40), all with RFC 3339 times in four offsets, through one monitor; the
    alerts, and each stream's instants (UTC) by index."""
    rng = random.Random(7)
    times, label_times, metric_times = _times(1, EVENTS), _times(2, EVENTS), _times(3, 60)
    predictions = [
        {
            "event_id": f"e{i}",
            "model": "m",
            "ts": times[i].isoformat(),
            "features": {"x": rng.gauss(2.0 if i >= 700 else 0.0, 1.0)},
            "prediction": 1.0,
        }
        for i in range(EVENTS)
    ]
    labels = [
        {"event_id": f"e{i}", "model": "m", "ts": label_times[i].isoformat(), "label": i < 600}
        for i in range(EVENTS)
    ]
    metrics = [
        {"model": "m", "ts": t.isoformat(), "name": "latency_ms", "value": 10.0 + (i % 3)}
        for i, t in enumerate(metric_times)
    ]
    for i in range(40, 60):
        metrics[i]["value"] = 50.0
    monitor = Monitor(SETTINGS)
    alerts = []
    for start in range(0, EVENTS, 100):
        stop = start + 100
        alerts += monitor.process_predictions(
            decode_prediction_lines(_lines(predictions[start:stop]))
        ).alerts
        alerts += monitor.process_labels(decode_label_lines(_lines(labels[start:stop]))).alerts
    alerts += monitor.process_metrics(decode_metric_lines(_lines(metrics))).alerts

    def index(moments: list[datetime]) -> dict[datetime, int]:
        return {moment.astimezone(UTC): i for i, moment in enumerate(moments)}

    return alerts, index(times), index(label_times), index(metric_times)


ALERTS, PREDICTION_AT, LABEL_AT, METRIC_AT = _run()


def _of(kind: AlertKind) -> list[Alert]:
    return [a for a in ALERTS if a.kind == kind]


def test_every_kind_of_alert_fires() -> None:
    assert _of(AlertKind.FEATURE_DRIFT)
    assert _of(AlertKind.PERFORMANCE_DEGRADATION)
    assert _of(AlertKind.METRIC_DEGRADATION)


def test_a_drift_alerts_window_is_its_events_times_to_the_microsecond() -> None:
    for alert in _of(AlertKind.FEATURE_DRIFT):
        first, last = PREDICTION_AT[alert.window.start], PREDICTION_AT[alert.window.end]
        assert last - first + 1 == alert.window.events == 200
        assert (last + 1 - 300) % 100 == 0  # the window closed on this event
        assert alert.detected_at == alert.window.end
        assert alert.window.end.tzinfo == UTC


def test_a_performance_alerts_window_is_its_labels_times() -> None:
    for alert in _of(AlertKind.PERFORMANCE_DEGRADATION):
        first, last = LABEL_AT[alert.window.start], LABEL_AT[alert.window.end]
        assert last - first + 1 == alert.window.events
        assert alert.detected_at == alert.window.end


def test_a_metric_alerts_window_is_its_values_times() -> None:
    for alert in _of(AlertKind.METRIC_DEGRADATION):
        first, last = METRIC_AT[alert.window.start], METRIC_AT[alert.window.end]
        assert last - first + 1 == alert.window.events == 5
        assert alert.detected_at == alert.window.end


def test_alerts_and_their_ids_are_those_of_earlier_versions() -> None:
    """Pinned on the code before the core kept its times as floats: the ids hash the
    window's end as an ISO string, so a time off by a microsecond, or rendered in
    another offset, would change them."""
    got = [(a.kind.value, a.status.value, a.window.end.isoformat(), a.alert_id) for a in ALERTS]
    assert got == EXPECTED


EXPECTED = [
    (
        "performance_degradation",
        "firing",
        "2026-11-27T10:16:20.996661+00:00",
        "11e7f739-f5b4-5c87-bdb3-f3f971c27ca7",
    ),
    (
        "feature_drift",
        "firing",
        "2026-11-27T10:20:03.222062+00:00",
        "394a2dc7-a436-5020-b4d4-4da70f9efebb",
    ),
    (
        "data_quality",
        "firing",
        "2026-11-27T10:20:03.222062+00:00",
        "519bcabd-37d0-5df3-9739-2ec3db6eae32",
    ),
    (
        "metric_degradation",
        "firing",
        "2026-11-27T10:01:02.790326+00:00",
        "d07e723c-dc3f-5005-83ae-9ccb5ea870b4",
    ),
]
