"""The SASL/SSL part of a kafka-python client's configuration, shared by every client
driftline makes (the producer SDK, the worker's topic admin, alert followers)."""

from typing import Any, Protocol

from pydantic import SecretStr

__all__ = ["SecuritySettings", "security_config"]


class SecuritySettings(Protocol):
    """Settings that say how to authenticate to Kafka."""

    @property
    def security_protocol(self) -> str: ...

    @property
    def sasl_mechanism(self) -> str | None: ...

    @property
    def sasl_username(self) -> str | None: ...

    @property
    def sasl_password(self) -> SecretStr | None: ...

    @property
    def ssl_cafile(self) -> str | None: ...


def security_config(settings: SecuritySettings) -> dict[str, Any]:
    """kafka-python keywords for ``settings``' protocol, SASL login and CA bundle.

    >>> from producers.settings import ProducerSettings
    >>> settings = ProducerSettings(security_protocol="SASL_SSL", sasl_mechanism="PLAIN",
    ...                             sasl_username="u", sasl_password="p")
    >>> security_config(settings)["sasl_plain_password"]
    'p'
    """
    config: dict[str, Any] = {"security_protocol": settings.security_protocol}
    if settings.sasl_mechanism is not None:
        config["sasl_mechanism"] = settings.sasl_mechanism
        config["sasl_plain_username"] = settings.sasl_username
        if settings.sasl_password is not None:
            config["sasl_plain_password"] = settings.sasl_password.get_secret_value()
    if settings.ssl_cafile is not None:
        config["ssl_cafile"] = settings.ssl_cafile
    return config
