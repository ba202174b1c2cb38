"""Pydantic model of a dead letter: an input the monitor could not accept, and why.

A dead letter must always fit in one Kafka message, whatever was refused: a refused
payload of up to 1 MiB would grow past Kafka's default 1 MB message limit once
escaped or base64-encoded. So a dead letter keeps the first
:data:`DEAD_LETTER_PAYLOAD_BYTES` of the payload, with its full size and SHA-256 to
find or compare the original, and where it was: the original key, topic, partition and
offset of a Kafka message (the record itself stays in its topic until retention drops
it), or the file and line.
"""

import base64
import hashlib
from typing import Self

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["DEAD_LETTER_KEY_BYTES", "DEAD_LETTER_PAYLOAD_BYTES", "DeadLetter"]

DEAD_LETTER_PAYLOAD_BYTES = 64 * 1024
"""Most bytes of a refused payload kept in its dead letter (escaped: at most ~400 kB)."""

DEAD_LETTER_KEY_BYTES = 1024
"""Most bytes of a refused message's key kept in its dead letter."""


class DeadLetter(BaseModel):
    """An invalid message or line: the reason, where it was, and its payload (capped).

    Build one with :meth:`of`, which caps the payload and records its size and hash:

    >>> letter = DeadLetter.of(b"{oops", "events.jsonl:3", "invalid_json: truncated")
    >>> letter.payload, letter.size, letter.truncated
    ('{oops', 5, False)
    >>> big = DeadLetter.of(b'"' * 2_000_000, "driftline.predictions/0@7", "oversize: ...",
    ...                     topic="driftline.predictions", partition=0, offset=7, key=b"m")
    >>> len(big.payload), big.size, big.truncated, big.key
    (65536, 2000000, True, 'm')
    """

    model_config = ConfigDict(frozen=True)

    source: str = Field(description="Where it came from: file:line, or topic/partition@offset.")
    reason: str = Field(description="Why it was refused: the problem, then the details.")
    payload: str = Field(
        description="The original bytes as text (see encoding); only the first "
        f"{DEAD_LETTER_PAYLOAD_BYTES} bytes when truncated."
    )
    encoding: str = Field("utf-8", description="utf-8, or base64 for bytes that are not text.")
    size: int | None = Field(None, description="Size of the whole original payload, in bytes.")
    sha256: str | None = Field(None, description="SHA-256 (hex) of the whole original payload.")
    truncated: bool = Field(False, description="True when payload holds only a prefix.")
    topic: str | None = Field(None, description="Kafka topic of the refused message.")
    partition: int | None = Field(None, description="Its partition.")
    offset: int | None = Field(None, description="Its offset (the first one, for a batch).")
    key: str | None = Field(
        None, description="Its key as text (see key_encoding), capped like the payload."
    )
    key_encoding: str = Field("utf-8", description="utf-8, or base64 for a binary key.")

    @classmethod
    def of(
        cls,
        payload: bytes | None,
        source: str,
        reason: str,
        *,
        topic: str | None = None,
        partition: int | None = None,
        offset: int | None = None,
        key: bytes | None = None,
    ) -> Self:
        """The dead letter of ``payload`` (None: a Kafka message with no value)."""
        data = payload or b""
        text, encoding = _as_text(data[:DEAD_LETTER_PAYLOAD_BYTES])
        key_text, key_encoding = (
            (None, "utf-8") if key is None else _as_text(key[:DEAD_LETTER_KEY_BYTES])
        )
        return cls(
            source=source,
            reason=reason,
            payload=text,
            encoding=encoding,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            truncated=len(data) > DEAD_LETTER_PAYLOAD_BYTES,
            topic=topic,
            partition=partition,
            offset=offset,
            key=key_text,
            key_encoding=key_encoding,
        )


def _as_text(data: bytes) -> tuple[str, str]:
    """``data`` as UTF-8 text, else base64; a character cut in two at the end by a
    prefix does not make the rest base64."""
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as error:
        if error.start >= len(data) - 3 and error.reason == "unexpected end of data":
            return data[: error.start].decode("utf-8"), "utf-8"
        return base64.b64encode(data).decode("ascii"), "base64"
