"""The detection benchmark's harness: positions of alerts, delays, episodes, the bound."""

import math

import pytest

from bench.detection import DELAY_CASES, Case, delay, episode, false_alarms, lorden, onset
from monitor.settings import MonitorSettings

SMALL = MonitorSettings(window={"size": 400, "hop": 100})
"""Short windows: a gross drift is seen within a few hundred events, so the runs are quick."""


def test_lorden_bound_is_the_textbook_formula() -> None:
    assert lorden(0.5) == pytest.approx(2 * math.log(1e6 * 25) / 0.25)
    assert (round(lorden(0.5)), round(lorden(0.25))) == (136, 545)
    assert [c.bound is None for c in DELAY_CASES[4:6]] == [False, True]


def test_delay_is_counted_from_the_onset_to_the_window_that_fired() -> None:
    run = delay(Case("mean shift 3 sd", "mean_shift", 3.0), "normal", 0, SMALL)
    assert run.onset == onset(0)
    assert run.onset % 100 != 0
    assert run.delay is not None
    assert 0 <= run.delay <= 400
    assert (run.onset + run.delay + 1) % 100 == 0  # the last event of a hop
    assert run.early == 0
    assert run.events < run.onset + 2_000  # stopped once detected


def test_an_episode_fires_once_and_resolves_after_the_drift_ends() -> None:
    run = episode(Case("constant", "constant"), "varied", 1, SMALL, hold=3_000, tail=2_000)
    assert run.feature == "num_03"
    assert run.firing.get("feature_drift", 0) >= 1
    resolved = run.resolved["feature_drift"]
    assert resolved is not None
    assert 0 <= resolved <= 2_000


def test_stationary_stream_counts_its_alerts_by_kind() -> None:
    run = false_alarms("varied", 100, 5_000, SMALL)
    assert run.events == 5_000
    assert sum(run.firing.values()) == len(run.subjects)
