"""One alert, one line: the terminal format of ``driftline alerts`` at any width."""

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st
from rich.cells import cell_len

from monitor.cli.render import alert_line
from schemas.alerts import Alert
from schemas.topics import DEGRADATION_ALERTS

NOW = datetime(2026, 11, 27, 10, 16, 41, tzinfo=UTC)


def make(model: str = "fraud-scorer", version: str = "3", subject: str = "accuracy") -> Alert:
    return Alert(
        alert_id="c2b1a3f4-0000-5000-8000-000000000000",
        kind="performance_degradation",
        status="firing",
        severity="critical",
        model=model,
        model_version=version,
        subject=subject,
        statistic="accuracy",
        score=0.71234,
        threshold=0.8,
        window={"start": NOW, "end": NOW, "events": 1000},
        reference={"id": "r", "events": 50000},
        detected_at=NOW,
    )


def test_a_line_holds_time_id_status_severity_kind_model_subject_and_scores() -> None:
    line = alert_line(make()).plain
    assert line == (
        "2026-11-27 10:16:41 c2b1a3f4 firing   critical performance_degradation "
        "fraud-scorer/3 accuracy accuracy=0.7123 threshold=0.8"
    )  # through a pipe: every field in its place, whole
    assert alert_line(make(), width=len(line)).plain == line  # it fits: nothing changes
    assert alert_line(make(), width=90).plain == (
        "11-27 10:16:41 c2b1a3f4 firing crit performance fraud-scorer/3 accuracy=0.712 thr=0.8"
    )
    assert alert_line(make(), width=80).plain == (
        "11-27 10:16:41 c2b1a3f4 firing crit performance fraud-sc… accuracy=0.712 thr=0.8"
    )


def test_a_label_free_estimate_goes_to_the_degradation_topic_and_reads_short() -> None:
    alert = Alert.model_validate(
        make(subject="roc_auc").model_dump()
        | {
            "kind": "estimated_performance_degradation",
            "severity": "warning",
            "statistic": "cbpe",
            "score": 0.81234,
            "threshold": 0.87,
        }
    )
    assert alert.topic == DEGRADATION_ALERTS
    assert alert_line(alert).plain == (
        "2026-11-27 10:16:41 c2b1a3f4 firing   warning  estimated_performance_degradation "
        "fraud-scorer/3 roc_auc cbpe=0.8123 threshold=0.87"
    )
    assert alert_line(alert, width=90).plain == (
        "11-27 10:16:41 c2b1a3f4 firing warn est.performance fraud-sco… roc_auc cbpe=0.812 thr=0.87"
    )


names = st.text(min_size=1, max_size=60)  # any text: wide characters, newlines, escapes


@given(model=names, version=names, subject=names, width=st.integers(1, 240))
def test_any_alert_is_one_line_within_the_width(
    model: str, version: str, subject: str, width: int
) -> None:
    alert = make(model, version, subject)
    whole = alert_line(alert).plain
    assert len(whole.splitlines()) == 1
    fitted = alert_line(alert, width=width).plain
    assert len(fitted.splitlines()) <= 1
    assert cell_len(fitted) <= width
    if width >= 30:  # room for the time and the id at least
        assert fitted.split()[:3] == ["11-27", "10:16:41", "c2b1a3f4"] or fitted == whole
