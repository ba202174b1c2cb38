"""``driftline dev kafka``: help, status and the errors that need no broker.

Each test points ``XDG_STATE_HOME`` at its own folder, so it never sees (or stops) a
broker another shell started with ``driftline dev kafka start``.
"""

import os
import shutil
import socket
from pathlib import Path

import pytest

from monitor.cli.main import main


@pytest.fixture(autouse=True)
def own_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A state dir of this test's own."""
    state = tmp_path / "state"
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    return state


def test_help_explains_start_status_and_stop(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["dev", "kafka", "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    for words in ("start", "status", "stop", "Java 17", "Maven", "43 MB", "driftline/kafka.json"):
        assert words in text
    assert 'eval "$(driftline dev kafka start)"' in text


def test_start_help_says_what_it_prints(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["dev", "kafka", "start", "--help"])
    text = capsys.readouterr().out
    assert "export KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:PORT" in text
    assert "export DRIFTLINE_KAFKA__BROKER=kafka://127.0.0.1:PORT" in text
    assert "--port" in text
    assert "--sasl-user" in text
    assert "--tls" in text


def test_status_and_stop_when_nothing_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dev", "kafka", "status"]) == 1
    assert capsys.readouterr().out == (
        "not running: no broker started by `driftline dev kafka start`\n"
    )
    assert main(["dev", "kafka", "stop"]) == 0
    assert "not running" in capsys.readouterr().out


def test_status_of_a_broker_that_has_exited_points_at_its_log(
    own_state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record = own_state / "driftline" / "kafka.json"
    record.parent.mkdir(parents=True)
    record.write_text(
        '{"pid": 999999999, "version": "4.4.0", "bootstrap": "127.0.0.1:9", '
        '"workdir": "/nonexistent/driftline-kafka-x", "started": "2026-01-01T00:00:00Z"}'
    )
    assert main(["dev", "kafka", "status"]) == 1
    out = capsys.readouterr().out
    assert "has exited" in out
    assert "/nonexistent/driftline-kafka-x/server.log" in out
    assert main(["dev", "kafka", "stop"]) == 0
    assert not record.exists()


def test_a_taken_port_is_one_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["dev", "kafka", "start", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert f"driftline: error: port {port} on 127.0.0.1 is taken" in err
    assert main(["dev", "kafka", "status"]) == 1


def test_without_java_it_says_so_before_any_download(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert main(["dev", "kafka", "start"]) == 2
    assert "driftline: error: java is not on PATH; Kafka 4.4.0 needs Java 17" in (
        capsys.readouterr().err
    )
    assert not (tmp_path / "cache").exists()


@pytest.mark.skipif(shutil.which("java") is None, reason="needs a java to hide Maven beside")
def test_without_maven_it_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    only_java = tmp_path / "bin"
    only_java.mkdir()
    os.symlink(str(shutil.which("java")), only_java / "java")
    monkeypatch.setenv("PATH", str(only_java))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # no jars yet
    assert main(["dev", "kafka", "start"]) == 2
    assert "driftline: error: Maven (mvn) is not on PATH" in capsys.readouterr().err


def test_a_sasl_user_needs_a_name_and_a_password(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["dev", "kafka", "start", "--sasl-user", "alice"])
    assert done.value.code == 2
    assert "expected NAME:PASSWORD" in capsys.readouterr().err
