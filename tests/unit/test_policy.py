"""AlertPolicy: hysteresis, one alert per episode, deterministic ids, saved state."""

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.alerting.policy import AlertPolicy, Span
from monitor.findings import Finding
from monitor.settings import PolicySettings
from schemas.alerts import Alert, AlertKind, AlertReference, AlertStatus, Severity

PROPERTY = settings(max_examples=80, derandomize=True, deadline=None, database=None)

START = datetime(2026, 11, 27, 10, 0, tzinfo=UTC).timestamp()
REFERENCE = AlertReference(id="m/1/ref-abc", events=20000)


def _window(k: int, events: int = 1000) -> Span:
    return Span(start=START + 600.0 * k, end=START + 600.0 * k + 600.0, events=events)


def _finding(
    breached: bool,
    subject: str = "amount",
    kind: AlertKind = AlertKind.FEATURE_DRIFT,
    statistic: str = "psi",
    immediate: bool = False,
) -> Finding:
    score = 0.3 if breached else 0.05
    return Finding(
        kind,
        subject,
        statistic,
        score,
        0.2,
        breached=breached,
        immediate=immediate,
        severity=Severity.CRITICAL if breached else Severity.WARNING,
    )


def _run(
    policy: AlertPolicy, breaches: list[bool], model: str = "m", offset: int = 0
) -> list[Alert | None]:
    alerts = []
    for k, breached in enumerate(breaches):
        window = _window(k + offset)
        alerts.append(policy.observe(model, "1", _finding(breached), window, REFERENCE, window.end))
    return alerts


def _statuses(alerts: list[Alert | None]) -> list[str | None]:
    return [None if a is None else a.status.value for a in alerts]


@pytest.mark.parametrize(
    ("fire_after", "resolve_after", "breaches", "expected"),
    [
        (2, 2, [1, 0, 1, 0, 1, 0], [None] * 6),  # never two in a row
        (2, 2, [1, 1, 1, 1], [None, "firing", None, None]),
        (2, 2, [1, 1, 0, 1, 0, 0, 0], [None, "firing", None, None, None, "resolved", None]),
        (1, 1, [1, 0, 1, 0], ["firing", "resolved", "firing", "resolved"]),
        (3, 1, [1, 1, 0, 1, 1, 1, 0], [None] * 5 + ["firing", "resolved"]),
        (1, 3, [1, 0, 0, 1, 0, 0, 0], ["firing", None, None, None, None, None, "resolved"]),
    ],
)
def test_hysteresis(
    fire_after: int, resolve_after: int, breaches: list[int], expected: list[str | None]
) -> None:
    policy = AlertPolicy(PolicySettings(fire_after=fire_after, resolve_after=resolve_after))
    assert _statuses(_run(policy, [bool(b) for b in breaches])) == expected


def _model_of_the_policy(breaches: list[bool], fire_after: int, resolve_after: int) -> list[str]:
    """The alert statuses the policy must give, written out plainly."""
    out, firing, run_breach, run_clean = [], False, 0, 0
    for breached in breaches:
        run_breach, run_clean = (run_breach + 1, 0) if breached else (0, run_clean + 1)
        if not firing and run_breach >= fire_after:
            firing = True
            out.append("firing")
        elif firing and run_clean >= resolve_after:
            firing = False
            out.append("resolved")
    return out


@PROPERTY
@given(
    breaches=st.lists(st.booleans(), max_size=40),
    fire_after=st.integers(1, 4),
    resolve_after=st.integers(1, 4),
)
def test_one_firing_and_one_resolved_alert_per_episode(
    breaches: list[bool], fire_after: int, resolve_after: int
) -> None:
    policy = AlertPolicy(PolicySettings(fire_after=fire_after, resolve_after=resolve_after))
    statuses = [s for s in _statuses(_run(policy, breaches)) if s is not None]
    assert statuses == _model_of_the_policy(breaches, fire_after, resolve_after)
    # firing and resolved alternate, starting with firing
    assert statuses == ["firing", "resolved"] * (len(statuses) // 2) + ["firing"] * (
        len(statuses) % 2
    )
    assert bool(policy.firing()) == (statuses[-1:] == ["firing"])


def test_immediate_finding_fires_at_once_but_only_once() -> None:
    policy = AlertPolicy(PolicySettings(fire_after=3, resolve_after=1))
    window = _window(0)
    first = policy.observe("m", "1", _finding(True, immediate=True), window, REFERENCE, START)
    assert first is not None
    assert first.status == AlertStatus.FIRING
    again = policy.observe("m", "1", _finding(True, immediate=True), _window(1), REFERENCE, START)
    assert again is None


def test_alert_fields() -> None:
    policy = AlertPolicy(PolicySettings(fire_after=1, resolve_after=1))
    firing, resolved = _run(policy, [True, False])
    assert firing is not None
    assert resolved is not None
    assert (firing.kind, firing.model, firing.model_version, firing.subject) == (
        AlertKind.FEATURE_DRIFT,
        "m",
        "1",
        "amount",
    )
    assert (firing.score, firing.threshold, firing.severity) == (0.3, 0.2, Severity.CRITICAL)
    assert firing.window == _window(0).window()
    assert firing.window.end == datetime(2026, 11, 27, 10, 10, tzinfo=UTC)
    assert firing.detected_at == firing.window.end
    assert firing.topic == "driftline.drift-alerts"
    assert resolved.severity == Severity.INFO
    assert resolved.window == _window(1).window()


def test_alert_ids_are_deterministic() -> None:
    breaches = [True, True, False, False, True, True, True, False, False]

    def ids(model: str = "m", offset: int = 0) -> list[str]:
        policy = AlertPolicy(PolicySettings())
        return [a.alert_id for a in _run(policy, breaches, model, offset) if a is not None]

    first = ids()
    assert len(first) == 4
    assert ids() == first  # same input, same ids
    assert len(set(first)) == 4
    assert set(ids(offset=1)).isdisjoint(first)  # other windows, other ids
    assert set(ids(model="other")).isdisjoint(first)


def test_same_window_different_subjects_get_different_ids() -> None:
    policy = AlertPolicy(PolicySettings(fire_after=1))
    window = _window(0)
    alerts = [
        policy.observe("m", "1", _finding(True, subject=s), window, REFERENCE, START)
        for s in ("a", "b")
    ]
    assert alerts[0] is not None
    assert alerts[1] is not None
    assert alerts[0].alert_id != alerts[1].alert_id


def test_drift_tests_share_an_episode_quality_checks_do_not() -> None:
    policy = AlertPolicy(PolicySettings(fire_after=2, resolve_after=1))

    def observe(k: int, kind: AlertKind, statistic: str) -> Alert | None:
        finding = _finding(True, kind=kind, statistic=statistic)
        return policy.observe("m", "1", finding, _window(k), REFERENCE, START)

    # psi then wasserstein on one feature: one drift episode, it fires on the second window
    assert observe(0, AlertKind.FEATURE_DRIFT, "psi") is None
    drift = observe(1, AlertKind.FEATURE_DRIFT, "wasserstein")
    assert drift is not None
    assert drift.statistic == "wasserstein"
    # two quality checks of that feature: two episodes, each needs its own two windows
    assert observe(0, AlertKind.DATA_QUALITY, "missing_rate") is None
    assert observe(1, AlertKind.DATA_QUALITY, "out_of_range") is None
    missing = observe(2, AlertKind.DATA_QUALITY, "missing_rate")
    out_of_range = observe(2, AlertKind.DATA_QUALITY, "out_of_range")
    assert missing is not None
    assert out_of_range is not None
    assert missing.alert_id != out_of_range.alert_id
    assert len(policy.firing()) == 3
    assert {key[2:] for key in policy.firing()} == {
        ("feature_drift", "amount", ""),
        ("data_quality", "amount", "missing_rate"),
        ("data_quality", "amount", "out_of_range"),
    }


def test_models_and_versions_are_separate_episodes() -> None:
    policy = AlertPolicy(PolicySettings(fire_after=2))
    window = _window(0)
    for model, version in (("a", "1"), ("a", "2"), ("b", "1")):
        assert policy.observe(model, version, _finding(True), window, REFERENCE, START) is None


def test_quiet_subjects_cost_no_state() -> None:
    policy = AlertPolicy(PolicySettings())
    _run(policy, [False] * 10)
    assert policy.episodes == {}
    _run(policy, [True, False])
    assert policy.episodes == {}


@PROPERTY
@given(
    before=st.lists(st.booleans(), max_size=12),
    after=st.lists(st.booleans(), max_size=12),
)
def test_saved_state_resumes_where_it_stopped(before: list[bool], after: list[bool]) -> None:
    straight = AlertPolicy(PolicySettings())
    expected = _run(straight, before + after)[len(before) :]

    first = AlertPolicy(PolicySettings())
    _run(first, before)
    resumed = AlertPolicy(PolicySettings())
    resumed.load(json.loads(json.dumps(first.to_dict())))
    assert resumed.episodes == first.episodes
    got = _run(resumed, after, offset=len(before))
    assert [None if a is None else a.model_dump() for a in got] == [
        None if a is None else a.model_dump() for a in expected
    ]
