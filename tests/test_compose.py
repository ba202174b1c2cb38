"""docker-compose.yml stays true to the code: every driftline command parses with the
real CLI, and every DRIFTLINE_* variable names a real setting with a valid value.

No Docker engine runs here, so the file is checked, not started."""

import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.cli.main import build_parser
from monitor.settings import MonitorSettings
from producers.settings import DEPRECATED_VARIABLES, ProducerSettings

COMPOSE = yaml.safe_load((Path(__file__).resolve().parents[1] / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
DRIFTLINE = [name for name, service in SERVICES.items() if name != "kafka"]


def driftline_commands(service: dict[str, Any]) -> list[list[str]]:
    """The `driftline ...` invocations in a service's command."""
    command = service["command"]
    script = command[-1] if command[:2] == ["sh", "-c"] else shlex.join(command)
    return [
        shlex.split(part.strip())[1:]
        for part in script.split("&&")
        if part.strip().startswith("driftline ")
    ]


def test_the_stack_has_a_broker_two_workers_a_producer_and_a_follower() -> None:
    commands = {name: driftline_commands(SERVICES[name])[0][0] for name in DRIFTLINE}
    assert sorted(commands.values()) == ["alerts", "produce", "worker", "worker"]
    assert SERVICES["kafka"]["image"].startswith("apache/kafka:")
    assert SERVICES["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"


@pytest.mark.parametrize("name", DRIFTLINE)
def test_commands_parse_with_the_cli(name: str) -> None:
    for argv in driftline_commands(SERVICES[name]):
        args = build_parser().parse_args(argv)
        assert callable(args.run)


@pytest.mark.parametrize("name", DRIFTLINE)
def test_environment_names_real_settings(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    environment = {k: str(v) for k, v in SERVICES[name]["environment"].items()}
    for variable in environment:
        if variable in DEPRECATED_VARIABLES:  # still read, with a warning
            continue
        if variable.startswith("DRIFTLINE_PRODUCER_"):
            assert variable.removeprefix("DRIFTLINE_PRODUCER_").lower() in (
                ProducerSettings.model_fields
            ), variable
        elif variable.startswith("DRIFTLINE_"):
            section, _, field = variable.removeprefix("DRIFTLINE_").lower().partition("__")
            owner = MonitorSettings.model_fields[section].annotation
            assert owner is not None
            assert field in owner.model_fields, variable  # type: ignore[union-attr]
    for variable, value in environment.items():
        monkeypatch.setenv(variable, value)
    MonitorSettings()
    ProducerSettings()
