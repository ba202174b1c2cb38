"""What the patch tests share: checks of the private names a patch relies on, whose
failure names the patch, what changed, the versions installed and checked, and what to
do."""

import ast
import inspect
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

__all__ = ["CHECKED_WITH", "Patch"]

CHECKED_WITH = {"faust-streaming": "0.15.3", "aiokafka": "0.14.0"}
"""The versions every patch was checked with (its docstring says so too)."""


class Patch:
    """One patch module, as its tests see it."""

    def __init__(self, module: ModuleType) -> None:
        self.module = module
        self.path = Path(*module.__name__.split(".")).with_suffix(".py").as_posix()

    def broken(self, what: str) -> str:
        """The message of a failed check: which patch, what changed, what to do."""
        installed = ", ".join(f"{name} {metadata.version(name)}" for name in CHECKED_WITH)
        checked = ", ".join(f"{name} {version}" for name, version in CHECKED_WITH.items())
        return (
            f"PATCH {self.path}: {what}.\n"
            f"Installed: {installed}; the patch was checked with {checked}. Read the "
            f"patch's docstring ('Relies on', 'To drop it'), compare with the new "
            f"library's code, then fix the patch or drop it."
        )

    @contextmanager
    def running(self, what: str) -> Iterator[None]:
        """Fail, naming the patch, if ``what`` raises (an assertion passes through)."""
        try:
            yield
        except AssertionError:
            raise
        except Exception as error:
            pytest.fail(self.broken(f"{what} raised {error!r}"))

    def has(self, owner: Any, name: str, params: tuple[str, ...] | None = None) -> Any:
        """``owner.name``, after checking it exists (and takes ``params``, if given)."""
        where = f"{_name(owner)}.{name}"
        assert hasattr(owner, name), self.broken(f"{where} no longer exists")
        found = getattr(owner, name)
        if params is not None:
            got = tuple(inspect.signature(found).parameters)
            assert got == params, self.broken(f"{where} takes {got}, the patch expects {params}")
        return found

    def uses(self, function: Any, expression: str) -> None:
        """Check that the code of ``function`` still uses ``expression`` (e.g.
        ``self._new_offset``): the patch counts on that use."""
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
        found = {ast.unparse(node) for node in ast.walk(tree) if isinstance(node, ast.expr)}
        assert expression in found, self.broken(f"{_name(function)} no longer uses {expression}")


def _name(thing: Any) -> str:
    """``module.Class.name`` of a class or function, a module's name, an object's type."""
    if isinstance(thing, ModuleType):
        return thing.__name__
    if not hasattr(thing, "__qualname__"):
        thing = type(thing)
    return f"{thing.__module__}.{thing.__qualname__}"
