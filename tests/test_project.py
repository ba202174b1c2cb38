"""The project keeps its promises: README true to the code, CI true to the README, lint clean."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _shell_blocks() -> list[str]:
    return re.findall(r"```sh\n(.*?)```", README, flags=re.S)


def test_readme_has_the_two_quick_start_commands() -> None:
    install, tests = (block.strip() for block in _shell_blocks()[:2])
    assert install.endswith("pip install -e . && driftline demo")
    assert tests.endswith("pip install -e '.[dev]' && pytest")


def test_ci_runs_exactly_the_readme_test_command() -> None:
    tests = _shell_blocks()[1].strip()
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert tests in ci


def test_readme_configuration_table_matches_the_settings() -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "monitor.settings"], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert printed
    missing = [line for line in printed if line not in README]
    assert missing == []


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", "."],
        ["ruff", "format", "--check", "."],
        ["mypy"],
    ],
    ids=["ruff", "ruff-format", "mypy"],
)
def test_code_is_clean(command: list[str]) -> None:
    executable = shutil.which(command[0], path=str(Path(sys.executable).parent))
    assert executable is not None, f"{command[0]} is not installed: pip install -e '.[dev]'"
    done = subprocess.run([executable, *command[1:]], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
