"""A Kafka test without its broker skips locally and fails under CI=true."""

import pytest

from tests.kafka.missing import broker_unavailable


def test_a_missing_broker_fails_the_run_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true but no SASL Kafka broker can run"):
        broker_unavailable("no java", broker="SASL Kafka broker")


def test_a_missing_broker_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no Kafka broker: no java"):
        broker_unavailable("no java")
