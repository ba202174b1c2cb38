"""Read a .jsonl file of events in chunks: validated events and dead letters per chunk.

A chunk of a few megabytes of whole lines is decoded in one call when every line is a
valid event (msgspec's JSON-lines decoder checks one object per line); otherwise it is
judged line by line, and each refusal names its ``file:line``. Blank lines are skipped.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from monitor.errors import InputError
from monitor.validate.validator import Validator
from schemas.dead_letter import DeadLetter

__all__ = ["CHUNK_BYTES", "Chunk", "read_jsonl"]

CHUNK_BYTES = 4 << 20
"""Bytes of whole lines read and decoded together (about 8,000 25-feature events)."""

E = TypeVar("E")


@dataclass(frozen=True)
class Chunk(Generic[E]):
    """The events and refusals of one chunk of lines, and its size in bytes."""

    events: list[E]
    dead: list[DeadLetter]
    size: int


def read_jsonl(
    path: Path, validator: Validator[Any], chunk_bytes: int = CHUNK_BYTES
) -> Iterator[Chunk[Any]]:
    """Chunks of ``path`` in file order.

    Raises :class:`~monitor.errors.InputError` when the file cannot be opened.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = Path(tmp) / "events.jsonl"
    ...     _ = path.write_bytes(
    ...         b'{"event_id": "a", "model": "m", "ts": 0, "features": {}}\\n\\nnot json\\n')
    ...     [(len(c.events), [d.source for d in c.dead]) for c in
    ...      read_jsonl(path, Validator("predictions"))]
    [(1, ['events.jsonl:3'])]
    """
    try:
        file = path.open("rb")
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror or error}") from error
    first = 1
    with file:
        while lines := file.readlines(chunk_bytes):
            events, dead = validator.decode_lines(lines, path.name, first)
            yield Chunk(events, dead, sum(map(len, lines)))
            first += len(lines)
