"""Where alerts, dead letters and window summaries go: JSON lines in a file or stream."""

from collections.abc import Sequence
from typing import IO

from pydantic import BaseModel

__all__ = ["JsonLinesSink"]


class JsonLinesSink:
    """Writes each model as one JSON line, flushing after each batch.

    >>> import io
    >>> from schemas.alerts import AlertWindow
    >>> out = io.StringIO()
    >>> sink = JsonLinesSink(out)
    >>> sink([AlertWindow(start=0, end=60, events=2)])
    >>> out.getvalue()
    '{"start":"1970-01-01T00:00:00Z","end":"1970-01-01T00:01:00Z","events":2}\\n'
    """

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.written = 0

    def __call__(self, items: Sequence[BaseModel]) -> None:
        self.stream.write("".join(item.model_dump_json() + "\n" for item in items))
        self.stream.flush()
        self.written += len(items)
