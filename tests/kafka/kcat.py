"""Send with Debian's ``kcat`` (librdkafka), the client of Go, .NET, Node and
confluent-kafka services: its own partitioner (CRC32 of the key), batching and codecs."""

import shutil
import subprocess
from collections.abc import Iterable, Sequence

from tests.kafka.missing import broker_unavailable

__all__ = ["kcat_send"]

Record = tuple[bytes | None, bytes | None]  # key, value (None: null)


def kcat_send(
    bootstrap: str,
    topic: str,
    records: Iterable[Record],
    codec: str | None = None,
    settings: Sequence[str] = (),
) -> None:
    """Produce ``records`` in one ``kcat -P`` run, compressed with ``codec``.

    ``settings`` are librdkafka properties (``"partitioner=murmur2_random"``). Values
    must not contain a newline; keys not a tab.
    """
    kcat = shutil.which("kcat")
    if kcat is None:
        broker_unavailable("kcat is not installed (apt-get install kcat)", "kcat")
    lines = []
    for key, value in records:
        assert key is None or b"\t" not in key, "a key with a tab"
        assert value is None or b"\n" not in value, "a value with a newline"
        # -K: a line without a tab has a null key; -Z: an empty key or value is null
        lines.append((key or b"") + b"\t" + (value or b""))
    command = [kcat, "-P", "-b", bootstrap, "-t", topic, "-K", "\t", "-Z"]
    if codec is not None:
        command += ["-z", codec]
    for setting in ("message.max.bytes=4000000", *settings):
        command += ["-X", setting]
    subprocess.run(command, input=b"\n".join(lines) + b"\n", check=True, timeout=120)
