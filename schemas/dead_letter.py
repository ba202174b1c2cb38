"""Pydantic model of a dead letter: an input the monitor could not accept, and why."""

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["DeadLetter"]


class DeadLetter(BaseModel):
    """An invalid message or line, kept whole with the reason it was refused.

    >>> DeadLetter(source="events.jsonl:3", reason="invalid JSON", payload="{oops").model_dump()
    {'source': 'events.jsonl:3', 'reason': 'invalid JSON', 'payload': '{oops', 'encoding': 'utf-8'}
    """

    model_config = ConfigDict(frozen=True)

    source: str = Field(description="Where it came from: file:line, or topic/partition@offset.")
    reason: str = Field(description="Why it was refused, naming the offending field.")
    payload: str = Field(description="The original bytes, as text (see encoding).")
    encoding: str = Field("utf-8", description="utf-8, or base64 for bytes that are not text.")
