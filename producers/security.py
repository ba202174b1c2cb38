"""The SASL/SSL part of a kafka-python client's configuration, shared by every client
driftline makes (the producer SDK, the worker's topic admin, alert followers).

When a TLS handshake fails (a CA that did not sign the broker's certificate, a name the
certificate does not cover), kafka-python logs it and keeps retrying until its
bootstrap timeout, then says only "Unable to bootstrap". :func:`tls_problem` makes one
handshake the way kafka-python does and says what is wrong.
"""

import socket
import ssl
from collections.abc import Sequence
from typing import Any, Protocol

from pydantic import SecretStr

__all__ = ["SecuritySettings", "TLSError", "security_config", "tls_problem"]


class TLSError(ConnectionError):
    """No TLS connection to a broker: the message says why and which setting to check."""


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


def tls_problem(
    servers: Sequence[str], settings: SecuritySettings, timeout: float = 5.0
) -> TLSError | None:
    """Why a TLS handshake with the brokers ``servers`` (``host:port``) fails, or None.

    It verifies the broker as kafka-python does (``ssl_cafile``, else the system's CAs;
    the host name or IP address checked). None when the protocol uses no TLS, when a
    handshake succeeds, or when no broker answers at all: then the problem is not TLS.

    >>> from producers.settings import ProducerSettings
    >>> settings = ProducerSettings(security_protocol="SSL", ssl_cafile="/nonexistent.pem")
    >>> print(tls_problem(["localhost:9093"], settings))
    cannot read the CA file ssl_cafile=/nonexistent.pem: [Errno 2] No such file or directory
    """
    if settings.security_protocol not in ("SSL", "SASL_SSL"):
        return None
    cafile = settings.ssl_cafile
    try:
        context = ssl.create_default_context(cafile=cafile)
    except OSError as error:
        return TLSError(f"cannot read the CA file ssl_cafile={cafile}: {error}")
    trusted = f"ssl_cafile={cafile}" if cafile else "the system's CAs (no ssl_cafile)"
    for server in servers:
        host, _, port = server.strip().rpartition(":")
        try:
            with (
                socket.create_connection((host, int(port)), timeout=timeout) as sock,
                context.wrap_socket(sock, server_hostname=host),
            ):
                return None
        except ssl.SSLCertVerificationError as error:
            return TLSError(
                f"the broker at {server} presented a certificate not verified by {trusted}: "
                f"{error.verify_message}"
            )
        except ssl.SSLError as error:
            return TLSError(f"the TLS handshake with the broker at {server} failed: {error}")
        except (OSError, ValueError):  # no answer there (or no port): try the next one
            continue
    return None
