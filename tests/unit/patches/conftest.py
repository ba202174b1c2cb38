"""A bare Faust app for the patch tests: built without a broker, nothing started."""

from pathlib import Path

import faust
import pytest


@pytest.fixture
def app(tmp_path: Path) -> faust.App:
    """A Faust app on a closed port, its data directory in ``tmp_path``."""
    return faust.App("patch-test", broker="kafka://127.0.0.1:9", datadir=tmp_path)
