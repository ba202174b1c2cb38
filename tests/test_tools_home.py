"""Tools live in the package, not in the test tree.

The package and the benchmarks never import from ``tests/`` (a user's install has no
test tree), and inside ``monitor`` only the command line imports the developer tools of
``monitor.dev``; the documentation names no ``python -m tests...`` command.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(source: str, package: str) -> set[str]:
    """Every module ``source`` imports, by absolute name; relative imports are resolved
    against ``package``, the package the file belongs to."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            parts = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join([*parts, node.module or ""] if node.level else [node.module or ""])
            base = base.strip(".")
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def importers(folders: list[str], prefix: str) -> dict[str, list[str]]:
    """Files under ``folders`` that import ``prefix`` or a module below it."""
    hits = {}
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            package = ".".join(path.relative_to(ROOT).parts[:-1])
            names = sorted(
                name
                for name in imported_modules(path.read_text(), package)
                if name == prefix or name.startswith(f"{prefix}.")
            )
            if names:
                hits[str(path.relative_to(ROOT))] = names
    return hits


def test_package_and_benchmarks_import_nothing_from_tests() -> None:
    assert importers(["monitor", "producers", "schemas", "bench"], "tests") == {}


def test_only_the_command_line_imports_the_developer_tools() -> None:
    users = importers(["monitor", "producers", "schemas"], "monitor.dev")
    assert set(users) == {"monitor/cli/dev.py", "monitor/dev/background.py"}


def test_the_documentation_names_no_module_of_the_test_tree_as_a_command() -> None:
    for readme in (ROOT / "README.md", ROOT / "bench" / "README.md"):
        assert "python -m tests" not in readme.read_text(), readme


def test_the_check_sees_every_form_of_import() -> None:
    source = "import tests.kafka\nfrom tests.kafka import topics\nfrom ..dev import kafka\n"
    found = imported_modules(source, "monitor.cli")
    assert {"tests.kafka", "tests.kafka.topics", "monitor.dev", "monitor.dev.kafka"} <= found
    assert "monitor.cli.x" in imported_modules("from . import x", "monitor.cli")
