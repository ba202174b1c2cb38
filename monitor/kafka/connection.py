"""The Faust worker's connection: :class:`~schemas.connection.KafkaConnection` as the
``broker`` and ``broker_credentials`` keywords of ``faust.App``.

Faust hands its credentials objects to aiokafka as keywords of its own making; built
from :meth:`~schemas.connection.KafkaConnection.aiokafka_options`, they come out as
those options (tests/unit/test_connection.py checks it with Faust's translation).

>>> from schemas.connection import KafkaConnection
>>> faust_options(KafkaConnection(broker="k1:9092,k2"))
{'broker': ['kafka://k1:9092', 'kafka://k2'], 'broker_credentials': None}
"""

from typing import Any

from faust.auth import SASLCredentials, SSLCredentials

from schemas.connection import SCHEME, KafkaConnection

__all__ = ["faust_options"]


def faust_options(connection: KafkaConnection) -> dict[str, Any]:
    """``broker`` and ``broker_credentials`` keywords of ``faust.App`` for ``connection``."""
    options = connection.aiokafka_options()
    context = options.get("ssl_context")
    credentials: SASLCredentials | SSLCredentials | None = None
    if connection.uses_sasl:  # with a context, Faust's protocol is SASL_SSL
        credentials = SASLCredentials(
            username=options["sasl_plain_username"],
            password=options["sasl_plain_password"],
            ssl_context=context,
            mechanism=options["sasl_mechanism"],
        )
    elif context is not None:
        credentials = SSLCredentials(context)
    return {
        "broker": [SCHEME + server for server in connection.servers],
        "broker_credentials": credentials,
    }
