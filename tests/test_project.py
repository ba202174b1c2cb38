"""The project keeps its promises: README true to the code, CI true to the README, lint
clean, layers kept (import-linter, contracts in pyproject.toml), references that exist."""

import ast
import functools
import importlib
import io
import re
import shutil
import subprocess
import sys
import tokenize
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
        ["lint-imports", "--no-cache"],
    ],
    ids=["ruff", "ruff-format", "mypy", "import-linter"],
)
def test_code_is_clean(command: list[str]) -> None:
    """Lint, format, types and the layer contracts; a failure shows the tool's report."""
    executable = shutil.which(command[0], path=str(Path(sys.executable).parent))
    assert executable is not None, f"{command[0]} is not installed: pip install -e '.[dev]'"
    done = subprocess.run([executable, *command[1:]], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


# What the repository's own text names: paths ("monitor/stats/window.py", "tests/kafka/")
# and Sphinx roles of its modules (":mod:`schemas.wire`", ":class:`~monitor.core.Monitor`").
_NAMED_PATH = re.compile(
    r"(?<![\w./-])((?:\.ci|bench|docs|monitor|producers|schemas|tests)/[\w./*-]*)"
)
_NAMED_MODULE = re.compile(
    r":(?:mod|class|func|meth|data|attr|exc):`~?((?:bench|monitor|producers|schemas|tests)\.[\w.]+)`"
)
_FOLDERS = ("bench", "docs", "monitor", "producers", "schemas", "tests")


def _outputs() -> list[str]:
    """Directories .gitignore names by path (``bench/out/``): what the code writes there
    is not in the repository, and may be named."""
    lines = (ROOT / ".gitignore").read_text().splitlines()
    return [line for line in lines if "/" in line.rstrip("/")]


@functools.cache
def _sources() -> tuple[Path, ...]:
    """Every Python and Markdown file of the repository (outputs aside)."""
    outputs = [ROOT / output for output in _outputs()]
    found = sorted(ROOT.glob("*.md"))
    for folder in _FOLDERS:
        found += sorted(ROOT.joinpath(folder).rglob("*.py"))
        found += sorted(ROOT.joinpath(folder).rglob("*.md"))
    return tuple(p for p in found if not any(p.is_relative_to(out) for out in outputs))


@functools.cache
def _prose(path: Path) -> list[tuple[int, str]]:
    """``(first line, text)`` of a file's prose: a Markdown file whole; a Python module's
    docstrings (and attribute docstrings) and comments."""
    source = path.read_text()
    if path.suffix == ".md":
        return [(1, source)]
    found = [
        (node.lineno, node.value.value)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    ]
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    found += [(t.start[0], t.string) for t in tokens if t.type == tokenize.COMMENT]
    return found


def _named(pattern: re.Pattern[str]) -> list[tuple[str, str]]:
    """``(file:line, name)`` of every name ``pattern`` finds (its group 1) in the prose."""
    names = []
    for path in _sources():
        for first, text in _prose(path):
            for match in pattern.finditer(text):
                line = first + text.count("\n", 0, match.start())
                names.append((f"{path.relative_to(ROOT)}:{line}", match.group(1)))
    return names


def test_every_path_the_docs_and_code_name_exists() -> None:
    """A docstring, comment, README or docs/*.md that names a file or folder of the
    repository names one that is there: a module that moves leaves no stale pointer.
    Globs (``tests/unit/test_*.py``) must match something."""
    outputs = _outputs()
    missing = []
    for where, name in _named(_NAMED_PATH):
        named = name.rstrip(".,;:")
        if any(named.startswith(output) for output in outputs):
            continue
        if not (any(ROOT.glob(named)) if "*" in named else (ROOT / named).exists()):
            missing.append(f"{where}: {named}")
    assert not missing, "named but not in the repository:\n" + "\n".join(missing)


def test_every_module_the_docstrings_name_exists() -> None:
    """``:mod:``, ``:class:``, ... roles naming driftline's modules resolve."""
    missing = [f"{where}: {name}" for where, name in _named(_NAMED_MODULE) if not _resolves(name)]
    assert not missing, "named but not importable:\n" + "\n".join(missing)


def test_the_design_is_cited_from_the_repository() -> None:
    """The code cites docs/architecture.md; only it names the shared DESIGN.md it follows."""
    citing = [
        str(path.relative_to(ROOT))
        for path in _sources()
        if "DESIGN.md" in path.read_text()
        and path not in (ROOT / "docs" / "architecture.md", Path(__file__).resolve())
    ]
    assert (ROOT / "docs" / "architecture.md").is_file()
    assert not citing, f"cite docs/architecture.md, not DESIGN.md: {citing}"


def _resolves(target: str) -> bool:
    """Whether ``target`` (``package.module.Class.method``) names something importable."""
    parts = target.split(".")
    for end in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:end]))
        except ImportError:
            continue
        for name in parts[end:]:
            if not hasattr(found, name):
                return False
            found = getattr(found, name)
        return True
    return False


def test_the_core_contract_covers_all_of_monitor_but_its_cli_tools_and_kafka_engine() -> None:
    """A new module of monitor is held to the core contract unless it is a part of the
    CLI, the developer tools or the Kafka engine (the layers contract makes it take a
    place in the layers)."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (core,) = [c for c in config["contracts"] if c["id"] == "core"]
    children = {
        path.stem if path.suffix == ".py" else path.name
        for path in (ROOT / "monitor").iterdir()
        if (path.suffix == ".py" and path.stem != "__init__") or (path / "__init__.py").is_file()
    }
    assert sorted(core["source_modules"]) == [
        f"monitor.{name}" for name in sorted(children - {"cli", "dev", "kafka"})
    ]


def test_the_documentation_runs_no_module_of_the_test_tree() -> None:
    """A user's install has no tests/: tools are driftline commands (``driftline dev``)."""
    for readme in (ROOT / "README.md", ROOT / "bench" / "README.md", *ROOT.glob("docs/*.md")):
        assert "python -m tests" not in readme.read_text(), readme
