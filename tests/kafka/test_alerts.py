"""Alert subscribers and the `alerts` and `produce` commands against a real broker."""

import json
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from kafka import KafkaProducer

from monitor.cli.main import main
from monitor.kafka.subscriber import AlertFilter, AlertSubscriber
from schemas.alerts import Alert
from schemas.wire import decode_labels, decode_predictions
from tests.kafka.topics import read_events

pytestmark = pytest.mark.kafka

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def alert(
    n: int,
    model: str,
    kind: str = "feature_drift",
    severity: str = "warning",
    status: str = "firing",
) -> Alert:
    return Alert(
        alert_id=f"a{n}",
        kind=kind,
        status=status,
        severity=severity,
        model=model,
        model_version="1",
        subject="x",
        statistic="psi",
        score=0.3,
        threshold=0.2,
        window={"start": NOW, "end": NOW, "events": 2000},
        reference={"id": f"{model}/1/ref-0", "events": 20000},
        detected_at=NOW,
    )


ALERTS = [
    alert(0, "fraud-scorer"),
    alert(1, "churn", kind="performance_degradation", severity="critical"),
    alert(2, "fraud-scorer", severity="info"),
    alert(3, "fraud-scorer", status="resolved", severity="info"),
]


def publish(bootstrap: str, topic: str, values: list[bytes]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    for value in values:
        producer.send(topic, value=value)
    producer.flush(timeout=30)
    producer.close()


def read_all(subscriber: AlertSubscriber, expected: int) -> list[Alert]:
    received: list[Alert] = []
    for _ in range(30):
        received += subscriber.poll(timeout=0.5)
        if len(received) >= expected:
            break
    return received


def test_subscriber_filters_and_skips_what_is_not_an_alert_or_a_repeat(
    kafka_bootstrap: str, kafka_topic: str
) -> None:
    publish(
        kafka_bootstrap,
        kafka_topic,
        [ALERTS[0].model_dump_json().encode(), b"not an alert"]
        + [a.model_dump_json().encode() for a in ALERTS[1:]]
        + [ALERTS[0].model_dump_json().encode()],  # re-sent by a worker after a crash
    )
    keep = AlertFilter(models=frozenset({"fraud-scorer"}), min_severity="warning")
    with AlertSubscriber(
        kafka_bootstrap, from_start=True, alert_filter=keep, topics=[kafka_topic]
    ) as subscriber:
        received = read_all(subscriber, 2)
        received += subscriber.poll(timeout=1.0)
        assert [a.alert_id for a in received] == ["a0", "a3"]  # a resolution always passes
        assert (subscriber.invalid, subscriber.repeated) == (1, 1)


def test_a_group_resumes_from_its_committed_offset(kafka_bootstrap: str, kafka_topic: str) -> None:
    publish(kafka_bootstrap, kafka_topic, [ALERTS[0].model_dump_json().encode()])
    group = f"{kafka_topic}-console"
    with AlertSubscriber(
        kafka_bootstrap, group_id=group, from_start=True, topics=[kafka_topic]
    ) as subscriber:
        assert [a.alert_id for a in read_all(subscriber, 1)] == ["a0"]
    publish(kafka_bootstrap, kafka_topic, [ALERTS[1].model_dump_json().encode()])
    with AlertSubscriber(
        kafka_bootstrap, group_id=group, from_start=True, topics=[kafka_topic]
    ) as subscriber:
        assert [a.alert_id for a in read_all(subscriber, 1)] == ["a1"]


def test_alerts_command_prints_json_lines(
    kafka_bootstrap: str, kafka_topic: str, capsys: pytest.CaptureFixture[str]
) -> None:
    publish(kafka_bootstrap, kafka_topic, [a.model_dump_json().encode() for a in ALERTS])
    code = main(
        [
            "alerts",
            "--broker",
            f"kafka://{kafka_bootstrap}",
            "--topic",
            kafka_topic,
            "--from-start",
            "--json",
            "--idle",
            "3",
            "--kind",
            "performance_degradation",
        ]
    )
    assert code == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [a["alert_id"] for a in printed] == ["a1"]


def test_alerts_command_says_when_kafka_is_unreachable(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["alerts", "--broker", "kafka://127.0.0.1:1", "--connect-timeout", "1"])
    assert code == 2
    assert "cannot reach Kafka at kafka://127.0.0.1:1" in capsys.readouterr().err


def test_produce_command_sends_predictions_and_labels(
    kafka_bootstrap: str, new_topic_name: Callable[[], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    predictions, labels = new_topic_name(), new_topic_name()
    monkeypatch.setenv("DRIFTLINE_PRODUCER_PREDICTIONS_TOPIC", predictions)
    monkeypatch.setenv("DRIFTLINE_PRODUCER_LABELS_TOPIC", labels)
    code = main(
        [
            "produce",
            "--broker",
            f"kafka://{kafka_bootstrap}",
            "--events",
            "600",
            "--rate",
            "0",
            "--scenario",
            "covariate-shift",
            "--scenario",
            "label-drift",
        ]
    )
    assert code == 0
    counts = {}
    for topic, decode in ((predictions, decode_predictions), (labels, decode_labels)):
        messages = read_events(kafka_bootstrap, topic, decode, 600)
        events = [e for _, batch in messages for e in batch]
        counts[topic] = sorted({e.model for e in events}), len(events)
    assert counts[predictions] == (["churn-predictor", "fraud-scorer"], 600)
    assert counts[labels] == (["churn-predictor", "fraud-scorer"], 600)
