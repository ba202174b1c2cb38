"""Every patch of monitor/kafka/patches is documented the same way and has its test."""

import importlib
import pkgutil
from pathlib import Path

import pytest

from monitor.kafka import patches
from tests.unit.patches.private import CHECKED_WITH

NAMES = sorted(module.name for module in pkgutil.iter_modules(patches.__path__))
SECTIONS = ("**What ", "**Why driftline changes it.**", "**Relies on**", "**To drop it.**")


def test_the_patches_are_found() -> None:
    assert NAMES == ["consumer", "pacing", "producer", "table", "undecodable"]


@pytest.mark.parametrize("name", NAMES)
def test_a_patch_says_what_why_what_it_relies_on_and_how_to_drop_it(name: str) -> None:
    module = importlib.import_module(f"{patches.__name__}.{name}")
    doc = module.__doc__ or ""
    missing = [section for section in SECTIONS if section not in doc]
    assert not missing, f"monitor/kafka/patches/{name}.py: its docstring lacks {missing}"
    checked = " and ".join(f"{package} {version}" for package, version in CHECKED_WITH.items())
    assert f"checked with {checked}" in " ".join(doc.split()), (
        f"monitor/kafka/patches/{name}.py: its docstring does not say 'checked with "
        f"{checked}' (tests/unit/patches/private.py CHECKED_WITH)"
    )
    test = f"tests/unit/patches/test_{name}.py"
    assert test in doc, f"monitor/kafka/patches/{name}.py: its docstring does not name {test}"
    assert (Path(__file__).parent / f"test_{name}.py").is_file(), f"{test} is missing"
