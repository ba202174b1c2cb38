"""Alert subscribers and the `alerts` and `produce` commands against a real broker."""

import fcntl
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic
from rich.cells import cell_len

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


# -- read as a person: one line per alert, in time order, back at the end of the topics --

TIMEOUT = 40.0
"""--connect-timeout and the old --idle of the commands below: a command that returns in
less than half of it read to the end and did not wait for a timeout."""

# (id prefix, kind, minutes after NOW, UTC offset of detected_at, partition); the
# degradation alerts interleave with the drift ones, two are detected at the same second
DRIFT = [("5e5e5e5e", 5, 0, 0), ("2b2b2b2b", 1, 0, 1), ("c3c3c3c3", 3, 0, 0)]
DEGRADATION = [("4d4d4d4d", 2, 1, 0), ("a1a1a1a1", 3, 0, 1), ("0f0f0f0f", 0, 0, 0)]
IN_TIME_ORDER = ["0f0f0f0f", "2b2b2b2b", "4d4d4d4d", "a1a1a1a1", "c3c3c3c3", "5e5e5e5e"]


def timed(prefix: str, kind: str, minutes: int, offset_hours: int) -> Alert:
    zone = timezone(timedelta(hours=offset_hours))
    detected = (NOW + timedelta(minutes=minutes)).astimezone(zone)
    return alert(0, "fraud-scorer-for-card-payments", kind=kind).model_copy(
        update={
            "alert_id": f"{prefix}-0000-5000-8000-000000000000",
            "subject": "transaction_amount_in_euros",
            "detected_at": detected,
        }
    )


def publish_out_of_order(bootstrap: str, drift: str, degradation: str) -> None:
    """Two topics of two partitions each; alerts sent out of time order."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(t, 2, 1) for t in (drift, degradation)])
    finally:
        admin.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    for topic, kind, rows in (
        (drift, "feature_drift", DRIFT),
        (degradation, "performance_degradation", DEGRADATION),
    ):
        for prefix, minutes, offset, partition in rows:
            value = timed(prefix, kind, minutes, offset).model_dump_json().encode()
            producer.send(topic, value=value, partition=partition)
    producer.flush(timeout=30)
    producer.close()


def alerts_command(bootstrap: str, *topics: str, follow: bool = False) -> list[str]:
    command = [sys.executable, "-m", "monitor.cli.main", "alerts", "--from-start"]
    command += ["--broker", f"kafka://{bootstrap}", "--connect-timeout", str(TIMEOUT)]
    command += ["--idle", str(TIMEOUT)]  # what the command before this change waited
    for topic in topics:
        command += ["--topic", topic]
    return command + (["--follow"] if follow else [])


def plain_environment(**changes: str) -> dict[str, str]:
    """This environment without what would make rich colour or size a pipe."""
    names = ("COLUMNS", "LINES", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")
    environment = {k: v for k, v in os.environ.items() if k not in names}
    return environment | changes


def check_lines(lines: list[str], width: int | None) -> None:
    """One line per alert, in time order, time in UTC and the short id first."""
    assert [line.split()[2] for line in lines] == IN_TIME_ORDER, lines
    times = [" ".join(line.split()[:2]) for line in lines]
    date = "%Y-%m-%d" if width is None else "%m-%d"
    minutes = [0, 1, 2, 3, 3, 5]
    assert times == [f"{NOW + timedelta(minutes=m):{date} %H:%M:%S}" for m in minutes]
    if width is None:
        assert all(
            "fraud-scorer-for-card-payments/1 transaction_amount_in_euros" in x for x in lines
        )
    else:
        assert all(cell_len(line) <= width for line in lines)


def test_alerts_command_prints_one_line_per_alert_in_time_order_through_a_pipe(
    kafka_bootstrap: str, new_topic_name: Callable[[], str]
) -> None:
    drift, degradation = new_topic_name(), new_topic_name()
    publish_out_of_order(kafka_bootstrap, drift, degradation)
    started = time.monotonic()
    done = subprocess.run(
        alerts_command(kafka_bootstrap, drift, degradation),
        env=plain_environment(COLUMNS="80"),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == len(IN_TIME_ORDER), lines  # not wrapped at 80 columns
    check_lines(lines, width=None)
    assert "\x1b" not in done.stdout  # no colour codes in a pipe
    assert elapsed < TIMEOUT / 2  # it returned at the end of the topics, not on a timeout


def test_alerts_command_fits_each_alert_on_one_line_of_an_80_column_terminal(
    kafka_bootstrap: str, new_topic_name: Callable[[], str]
) -> None:
    drift, degradation = new_topic_name(), new_topic_name()
    publish_out_of_order(kafka_bootstrap, drift, degradation)
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    process = subprocess.Popen(
        alerts_command(kafka_bootstrap, drift, degradation),
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=subprocess.PIPE,
        env=plain_environment(),  # the width comes from the terminal
    )
    os.close(follower)
    output = read_until_closed(leader, deadline=time.monotonic() + TIMEOUT)
    assert process.wait(timeout=TIMEOUT) == 0, process.stderr and process.stderr.read()
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output.decode())
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == len(IN_TIME_ORDER), lines
    check_lines(lines, width=80)
    assert "\x1b[31m" in output.decode()  # firing alerts in red on a terminal


def read_until_closed(fd: int, deadline: float) -> bytes:
    """What a pseudo-terminal shows until the program on it exits (or the deadline)."""
    chunks = []
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                chunks.append(chunk)
    except OSError:  # EIO: the terminal's other side closed
        pass
    finally:
        os.close(fd)
    return b"".join(chunks)


def test_alerts_command_follow_prints_the_backlog_in_time_order_then_each_new_alert(
    kafka_bootstrap: str, new_topic_name: Callable[[], str]
) -> None:
    drift, degradation = new_topic_name(), new_topic_name()
    publish_out_of_order(kafka_bootstrap, drift, degradation)
    process = subprocess.Popen(
        alerts_command(kafka_bootstrap, drift, degradation, follow=True),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=plain_environment(),
    )
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + TIMEOUT
        backlog = read_lines(process.stdout.fileno(), len(IN_TIME_ORDER), deadline)
        check_lines(backlog, width=None)
        late = timed("9a9a9a9a", "feature_drift", -60, 0)  # detected earlier, printed now
        publish(kafka_bootstrap, drift, [late.model_dump_json().encode()])
        [line] = read_lines(process.stdout.fileno(), 1, deadline)
        assert line.split()[:3] == ["2026-11-27", "09:00:00", "9a9a9a9a"]
    finally:
        process.terminate()
        process.wait(timeout=TIMEOUT)


def read_lines(fd: int, count: int, deadline: float) -> list[str]:
    """``count`` lines from a pipe, failing at the deadline."""
    data = b""
    while data.count(b"\n") < count:
        assert time.monotonic() < deadline, data
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            chunk = os.read(fd, 65536)
            assert chunk, data  # the command ended
            data += chunk
    return data.decode().splitlines()


def test_read_to_end_with_a_group_returns_everything_once_then_nothing(
    kafka_bootstrap: str, new_topic_name: Callable[[], str]
) -> None:
    drift, degradation = new_topic_name(), new_topic_name()
    publish_out_of_order(kafka_bootstrap, drift, degradation)
    group = f"{drift}-console"
    for expected in (IN_TIME_ORDER, []):
        with AlertSubscriber(
            kafka_bootstrap,
            group_id=group,
            from_start=True,
            topics=[drift, degradation],
            connect_timeout=TIMEOUT,
        ) as subscriber:
            started = time.monotonic()
            received = subscriber.read_to_end()
            assert time.monotonic() - started < TIMEOUT / 2
            assert [a.alert_id[:8] for a in received] == expected


def test_read_to_end_of_empty_topics_returns_at_once(
    kafka_bootstrap: str, new_topic_name: Callable[[], str]
) -> None:
    topics = [new_topic_name(), new_topic_name()]
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        admin.create_topics([NewTopic(t, 3, 1) for t in topics])
    finally:
        admin.close()
    with AlertSubscriber(
        kafka_bootstrap, from_start=True, topics=topics, connect_timeout=TIMEOUT
    ) as subscriber:
        started = time.monotonic()
        assert subscriber.read_to_end() == []
        assert time.monotonic() - started < TIMEOUT / 2
