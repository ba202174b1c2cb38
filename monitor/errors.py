"""The one root exception of driftline and its kinds."""

__all__ = ["BrokerUnavailableError", "ConfigError", "DriftlineError", "InputError"]


class DriftlineError(Exception):
    """Root of every error driftline raises on purpose."""


class ConfigError(DriftlineError):
    """Invalid settings: the message names the file or variable and the setting."""


class InputError(DriftlineError):
    """An input file cannot be read or is not what it should be."""


class BrokerUnavailableError(DriftlineError):
    """Kafka cannot be reached at the address given."""
