"""Why a TLS connection to Kafka fails, in words that name the setting to check.

When a TLS handshake fails (a CA that did not sign the broker's certificate, a name the
certificate does not cover), kafka-python logs it and keeps retrying until its
bootstrap timeout, then says only "Unable to bootstrap". :func:`tls_problem` makes one
handshake the way kafka-python does and says what is wrong. The SDK, ``driftline
worker`` and ``driftline alerts`` ask it when they cannot connect, or before they try.
"""

import socket
import ssl

from schemas.connection import KafkaConnection

__all__ = ["TLSError", "tls_problem"]


class TLSError(ConnectionError):
    """No TLS connection to a broker: the message says why and which setting to check."""


def tls_problem(connection: KafkaConnection, timeout: float = 5.0) -> TLSError | None:
    """Why a TLS handshake with the brokers of ``connection`` fails, or None.

    It verifies the broker as kafka-python does (``ssl_cafile``, else the system's CAs;
    the host name or IP address checked). None when the protocol uses no TLS, when a
    handshake succeeds, or when no broker answers at all: then the problem is not TLS.

    >>> connection = KafkaConnection(broker="localhost:9093", security_protocol="SSL",
    ...                              ssl_cafile="/nonexistent.pem")
    >>> print(tls_problem(connection))
    cannot read the CA file ssl_cafile=/nonexistent.pem: [Errno 2] No such file or directory
    """
    if not connection.uses_tls:
        return None
    cafile = connection.ssl_cafile
    try:
        context = connection.ssl_context()
    except OSError as error:
        return TLSError(f"cannot read the CA file ssl_cafile={cafile}: {error}")
    trusted = f"ssl_cafile={cafile}" if cafile else "the system's CAs (no ssl_cafile)"
    for server in connection.servers:
        host, _, port = server.rpartition(":")
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
