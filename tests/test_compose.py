"""docker-compose.yml and the Dockerfile stay true to the code.

No Docker engine runs here, so no image is built and no container is started. What
stands in for them:

- the Dockerfile's install steps (its COPY and pip RUN steps, read with Docker's own
  parser) install driftline from a read-only checkout, which the old compose file's
  ``pip install /src`` of a read-only mount could not;
- the image is python:3.11-slim, run by a user who is not root, ``driftline`` its
  entrypoint;
- every Python service runs that one image, and its command, after the entrypoint, is a
  ``driftline`` command line the CLI parses, reaching the broker the file runs;
- every healthcheck runs an executable of its image against one of the broker's listeners;
- every DRIFTLINE_* variable names a real setting with a valid value;
- the build context (.dockerignore, by docker's own rules) holds what the Dockerfile
  copies and nothing that git ignores.
"""

import json
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import warnings
from pathlib import Path
from typing import Any

import dockerfile
import pytest
import yaml
from docker.utils.build import exclude_paths

from monitor.cli.main import build_parser
from monitor.settings import MonitorSettings, load_settings
from producers.settings import DEPRECATED_VARIABLES, ProducerSettings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
PYTHON_SERVICES = [name for name in SERVICES if name != "kafka"]
IMAGE = "driftline:local"
"""The image docker-compose.yml builds from the Dockerfile."""

DOCKERFILE = dockerfile.parse_file(str(ROOT / "Dockerfile"))
SCRIPTS: dict[str, str] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]

NOT_RUN = {"groupadd", "useradd"}
"""Programs of RUN steps the install test leaves out: they change the image's users,
as root inside it (the image's USER is checked instead)."""

IMAGE_EXECUTABLES = {
    # The apache/kafka image unpacks the Kafka distribution into /opt/kafka (apache/kafka's
    # docker/jvm/Dockerfile) and its bin/ holds kafka-topics.sh. Taken from there: the
    # image cannot be opened without a Docker engine.
    "apache/kafka:4.4.0": {"/opt/kafka/bin/kafka-topics.sh"},
}
"""Executables of images other than driftline's that a healthcheck may run."""


def instructions(name: str) -> list[dockerfile.Command]:
    """The Dockerfile's instructions of one kind, in order."""
    return [command for command in DOCKERFILE if command.cmd == name]


def entrypoint() -> list[str]:
    """The image's entrypoint, in exec form (a compose command is its arguments)."""
    last = instructions("ENTRYPOINT")[-1]
    assert last.json, f"{last.original}: exec form, so a command is its arguments"
    return list(last.value)


def build_context(root: Path) -> set[str]:
    """Files under ``root`` a Docker build sends, by its .dockerignore (docker's rules)."""
    lines = [line.strip() for line in (root / ".dockerignore").read_text().splitlines()]
    patterns = [line for line in lines if line and not line.startswith("#")]
    return {path for path in exclude_paths(str(root), patterns) if (root / path).is_file()}


def tree(root: Path) -> dict[str, bytes]:
    """Every path under ``root`` with a file's contents (b"" for a directory)."""
    return {
        str(path.relative_to(root)): path.read_bytes() if path.is_file() else b""
        for path in root.rglob("*")
    }


def read_only(directory: Path, argv: list[str]) -> list[str]:
    """``argv`` run with ``directory`` mounted read-only, as a container's ``:ro`` mount is
    (a private mount namespace: mode bits would not stop root)."""
    script = 'mount --bind -o ro "$0" "$0" && exec "$@"'
    namespace = ["unshare", "--user", "--map-root-user", "--mount"]
    return [*namespace, "sh", "-c", script, str(directory), *argv]


def copy_step(command: dockerfile.Command, context: Path, files: set[str], image: Path) -> None:
    """A COPY step: ``files`` of the build context at ``context`` into ``image`` (its /)."""
    assert not command.flags, f"{command.original}: the test copies without flags"
    *sources, destination = command.value
    target = image / destination.lstrip("/")
    for source in (source.rstrip("/") for source in sources):
        copied = sorted(name for name in files if name == source or name.startswith(source + "/"))
        assert copied, f"{command.original}: {source} is not in the build context"
        for name in copied:
            if name == source:  # a file, into a directory (ends with /) or as named
                to = target / Path(name).name if destination.endswith("/") else target
            else:  # a directory's contents
                to = target / Path(name).relative_to(source)
            to.parent.mkdir(parents=True, exist_ok=True)
            # Contents, not mode bits: the build runs as root, which writes whatever they say.
            shutil.copyfile(context / name, to)


def run_step(
    command: dockerfile.Command, image: Path, environment: dict[str, str]
) -> subprocess.CompletedProcess[str] | None:
    """A RUN step on the host, ``image`` standing for the image's /; None if left out.

    pip installs with ``--no-deps``: the dependencies come from PyPI as in every
    ``pip install -e .`` (40 to 80 s here), and the tree plays no part in them.
    """
    for flag in command.flags:  # the host's pip cache stands in for BuildKit's
        assert flag.startswith("--mount=type=cache,"), f"{command.original}: {flag}"
    parts = [shlex.split(part) for part in command.value[0].split("&&")]
    programs = {argv[0] for argv in parts}
    if programs <= NOT_RUN:
        return None
    assert programs <= {"pip", "rm"}, f"{command.original}: teach the test to run it"
    for argv in parts:
        argv[:] = [str(image) + word if word.startswith("/") else word for word in argv]
        if argv[:2] == ["pip", "install"]:
            argv.insert(2, "--no-deps")
    script = " && ".join(shlex.join(argv) for argv in parts)
    return subprocess.run(
        ["sh", "-c", script], cwd=image, env=environment, capture_output=True, text=True
    )


def test_the_image_is_python_slim_with_driftline_as_entrypoint_run_by_a_user_not_root() -> None:
    assert [command.value[0] for command in instructions("FROM")] == ["python:3.11-slim"]
    assert entrypoint() == ["driftline"]
    assert SCRIPTS["driftline"] == "monitor.cli.main:main"
    user = instructions("USER")[-1]
    assert DOCKERFILE.index(user) > DOCKERFILE.index(instructions("RUN")[-1])
    assert user.value[0].partition(":")[0] not in {"root", "0"}


@pytest.mark.docker
def test_the_install_steps_work_on_a_read_only_checkout(tmp_path: Path) -> None:
    files = build_context(ROOT)
    context = tmp_path / "checkout"  # what a build sends; mounted read-only for the old way
    for name in files:
        (context / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / name, context / name)
    before = tree(context)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    environment = os.environ | {"PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    probe = None
    if shutil.which("unshare") is not None:
        probe = subprocess.run(read_only(context, ["true"]), capture_output=True, check=False)
    if probe is not None and probe.returncode == 0:
        # The old compose command, `pip install -q /src` on a read-only mount: pip builds in it.
        old = subprocess.run(
            read_only(context, ["pip", "install", "-q", str(context)]),
            env=environment,
            capture_output=True,
            text=True,
            check=False,
        )
        assert old.returncode != 0
        assert "driftline.egg-info': Read-only file system" in old.stdout + old.stderr
    else:  # the new steps are still checked below: they write nothing into the checkout
        why = "no unshare" if probe is None else probe.stderr.decode(errors="replace")
        warnings.warn(f"no read-only mount here ({why}): the old way not tried", stacklevel=1)

    # The Dockerfile's steps, in order: COPY from the context, RUN pip in the image.
    image = tmp_path / "image"
    ran = []
    for command in DOCKERFILE:
        if command.cmd == "ENV":
            pairs = command.value
            environment |= dict(zip(pairs[::2], pairs[1::2], strict=True))
        elif command.cmd == "COPY":
            copy_step(command, context, files, image)
        elif command.cmd == "RUN" and (result := run_step(command, image, environment)):
            assert result.returncode == 0, result.stdout + result.stderr
            ran.append(command.original)
    assert any("pip install" in step for step in ran)
    copies = [image / command.value[-1].lstrip("/") for command in instructions("COPY")]
    assert not any(path.exists() for path in copies)  # the copied tree is dropped
    assert tree(context) == before  # nothing written into the checkout

    site = Path(sysconfig.get_paths(vars={"base": str(venv), "platbase": str(venv)})["purelib"])
    (dist_info,) = site.glob("driftline-*.dist-info")
    origin = json.loads((dist_info / "direct_url.json").read_text())
    assert not origin["dir_info"].get("editable", False)
    assert (site / "monitor" / "cli" / "main.py").is_file()
    readme = (ROOT / "README.md").read_text().strip()
    assert readme in (dist_info / "METADATA").read_text()  # the metadata is whole
    # The entrypoint runs from the installed copy, the copied tree gone; the
    # dependencies (not installed above) are this environment's.
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import monitor; print(monitor.__file__)"],
        cwd=tmp_path,  # not this checkout's monitor/
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(where.stdout.strip()).is_relative_to(site)
    version = subprocess.run(
        [str(venv / "bin" / entrypoint()[0]), "--version"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert version.stdout.startswith("driftline ")


def test_the_build_context_holds_what_the_dockerfile_copies_and_nothing_git_ignored(
    tmp_path: Path,
) -> None:
    copied = [
        source.rstrip("/") for command in instructions("COPY") for source in command.value[:-1]
    ]
    packages = [source for source in copied if (ROOT / source).is_dir()]
    wanted = {f"{source}/module.py" if source in packages else source for source in copied}
    lines = [line.strip() for line in (ROOT / ".gitignore").read_text().splitlines()]
    ignored = [line.rstrip("/") for line in lines if line and not line.startswith("#")]
    junk = {".git/HEAD"}
    for pattern in ignored:
        sample = pattern.replace("*", "x") + "/junk"
        junk.add(sample)
        if "/" not in pattern:  # git ignores it at any depth
            junk |= {f"{package}/{sample}" for package in packages}
    for name in wanted | junk:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    shutil.copyfile(ROOT / ".dockerignore", tmp_path / ".dockerignore")
    assert build_context(tmp_path) - {".dockerignore"} == wanted


def test_the_stack_has_a_broker_two_workers_a_producer_and_a_follower() -> None:
    commands = sorted(SERVICES[name]["command"][0] for name in PYTHON_SERVICES)
    assert commands == ["alerts", "produce", "worker", "worker"]
    assert SERVICES["kafka"]["image"].startswith("apache/kafka:")
    assert SERVICES["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    instance_ids = [
        SERVICES[name]["environment"].get("DRIFTLINE_KAFKA__INSTANCE_ID")
        for name in PYTHON_SERVICES
        if SERVICES[name]["command"][0] == "worker"
    ]
    assert instance_ids == ["worker-1", "worker-2"]  # static: restarts keep the partitions


@pytest.mark.parametrize("name", PYTHON_SERVICES)
def test_python_services_run_the_image_built_from_this_tree(name: str) -> None:
    service = SERVICES[name]
    assert service["image"] == IMAGE
    assert service["build"] == "."
    assert "volumes" not in service  # the image holds driftline: nothing installs at start


@pytest.mark.parametrize("name", PYTHON_SERVICES)
def test_commands_are_driftline_command_lines_reaching_the_broker(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = [*entrypoint(), *SERVICES[name]["command"]]
    assert argv[0] in SCRIPTS
    try:
        args = build_parser().parse_args(argv[1:])
    except SystemExit:
        pytest.fail(f"{name}: `{shlex.join(argv)}` is not a driftline command line")
    assert callable(args.run)
    for variable in [variable for variable in os.environ if variable.startswith("DRIFTLINE_")]:
        monkeypatch.delenv(variable)
    for variable, value in SERVICES[name]["environment"].items():
        monkeypatch.setenv(variable, str(value))
    advertised = SERVICES["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    url = "kafka://" + advertised.partition("://")[2]
    assert args.broker in (None, url)
    assert load_settings(None).kafka.broker == url  # what worker and alerts read
    assert ProducerSettings().broker == url  # what produce reads


def test_healthchecks_run_an_executable_of_their_image_against_a_listener() -> None:
    kafka = SERVICES["kafka"]["environment"]
    controllers = set(kafka["KAFKA_CONTROLLER_LISTENER_NAMES"].split(","))
    ports = {
        address.rpartition(":")[2]
        for listener, _, address in (
            entry.partition("://") for entry in kafka["KAFKA_LISTENERS"].split(",")
        )
        if listener not in controllers
    }
    checked = []
    for name, service in SERVICES.items():
        if "healthcheck" not in service:
            continue
        kind, executable, *arguments = service["healthcheck"]["test"]
        assert kind == "CMD", f"{name}: exec form, no shell in between"
        if service["image"] == IMAGE:
            assert executable in SCRIPTS, name
        else:
            assert executable in IMAGE_EXECUTABLES[service["image"]], name
        if "--bootstrap-server" in arguments:
            host, _, port = arguments[arguments.index("--bootstrap-server") + 1].rpartition(":")
            assert host == "localhost", name
            assert port in ports, f"{name}: {port} is not a client listener's port"
        checked.append(name)
    waited = {
        dependency
        for service in SERVICES.values()
        for dependency, condition in service.get("depends_on", {}).items()
        if condition["condition"] == "service_healthy"
    }
    assert waited
    assert waited <= set(checked)


@pytest.mark.parametrize("name", PYTHON_SERVICES)
def test_environment_names_real_settings(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    environment = {k: str(v) for k, v in SERVICES[name]["environment"].items()}
    for variable in environment:
        assert variable not in DEPRECATED_VARIABLES, (
            f"{variable}: now {DEPRECATED_VARIABLES[variable]}"
        )
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
