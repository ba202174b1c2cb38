"""What a Kafka test does when it cannot have its broker: fail under CI, else skip.

Locally a missing broker (no Java, no network) skips the Kafka tests; under ``CI=true``
it fails the run, so a green CI always means the tests ran against a real broker.
"""

import os
from typing import NoReturn

import pytest


def broker_unavailable(message: str, broker: str = "Kafka broker") -> NoReturn:
    """Fail under ``CI=true``, else skip; ``broker`` names what was missing."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but no {broker} can run: {message}", pytrace=False)
    pytest.skip(f"no {broker}: {message}")
