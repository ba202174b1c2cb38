"""The Kafka benchmark's arithmetic: progress spans, percentiles, interpolation (no broker)."""

import argparse

import pytest

from bench.cli import env_setting
from bench.kafka.figures import interpolate, latency_summary, percentile, progress_rate


def test_the_span_starts_once_every_model_has_reported() -> None:
    points = [
        (0.0, "a", 2000),
        (1.0, "a", 2500),
        (2.0, "b", 2000),  # every model known: 4,500 events done
        (3.0, "a", 3000),
        (4.0, "b", 3500),  # 6,500 done
    ]
    assert progress_rate(points) == (2.0, 4.0, 2000)


def test_a_model_that_never_reports_again_keeps_its_last_position() -> None:
    points = [(0.0, "a", 500), (0.0, "b", 500), (1.0, "a", 1500), (1.0, "a", 1000)]
    assert progress_rate(points) == (0.0, 1.0, 1000)


def test_no_span_without_progress_after_the_start() -> None:
    assert progress_rate([]) is None
    assert progress_rate([(1.0, "a", 500), (1.0, "b", 500)]) is None


def test_percentiles_interpolate_between_ranks() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 99) == pytest.approx(99.01)
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)


def test_latency_summary_in_milliseconds_with_trend() -> None:
    summary = latency_summary([0.1] * 5 + [0.3] * 5)
    assert summary["samples"] == 10
    assert summary["max"] == pytest.approx(300)
    assert summary["first_fifth_p50"] == pytest.approx(100)
    assert summary["last_fifth_p50"] == pytest.approx(300)


def test_interpolate_holds_the_ends() -> None:
    series = [(10.0, 1.0), (12.0, 2.0)]
    assert interpolate(series, 11.0) == pytest.approx(1.5)
    assert interpolate(series, 0.0) == 1.0
    assert interpolate(series, 99.0) == 2.0


def test_worker_settings_must_be_driftline_variables() -> None:
    assert env_setting("DRIFTLINE_KAFKA__BATCH_MESSAGES=5000") == (
        "DRIFTLINE_KAFKA__BATCH_MESSAGES",
        "5000",
    )
    with pytest.raises(argparse.ArgumentTypeError):
        env_setting("KAFKA_BATCH=1")
