"""Validation at the edge: raw messages or lines in, events or dead letters out.

Nothing a producer sends can stop a processor: a message with no value, bad JSON, a
wrong type, an oversize payload or an undeclared model becomes a
:class:`~schemas.dead_letter.DeadLetter` with the original payload (capped) and the
reason, counted by kind of problem. In a batch message (a JSON array), each event stands
on its own: one bad event does not sink the others.
"""

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Generic, Literal, NamedTuple, TypeVar

import msgspec

from schemas.dead_letter import DeadLetter
from schemas.limits import MAX_EVENT_BYTES
from schemas.wire import (
    WireLabel,
    WireMetric,
    WirePrediction,
    decode_label_lines,
    decode_labels,
    decode_metric_lines,
    decode_metrics,
    decode_prediction_lines,
    decode_predictions,
)

__all__ = ["EventKind", "Origin", "Validator"]

EventKind = Literal["predictions", "labels", "metrics"]
E = TypeVar("E", WirePrediction, WireLabel, WireMetric)

_DECODERS: dict[EventKind, tuple[Callable[[bytes], list[Any]], Callable[[bytes], list[Any]]]] = {
    "predictions": (decode_predictions, decode_prediction_lines),
    "labels": (decode_labels, decode_label_lines),
    "metrics": (decode_metrics, decode_metric_lines),
}
_BAD_JSON = (msgspec.DecodeError, UnicodeDecodeError)
"""msgspec raises UnicodeDecodeError for invalid UTF-8 inside a string."""


class Origin(NamedTuple):
    """Where a Kafka message was: kept in its dead letters.

    >>> Origin("driftline.predictions", 3, 1042, b"fraud-scorer").source
    'driftline.predictions/3@1042'
    """

    topic: str
    partition: int
    offset: int
    key: bytes | None = None

    @property
    def source(self) -> str:
        """``topic/partition@offset``."""
        return f"{self.topic}/{self.partition}@{self.offset}"


class Validator(Generic[E]):
    """Decodes one kind of event and sorts out what cannot be accepted.

    Examples
    --------
    >>> validator = Validator("predictions", models=["fraud-scorer"])
    >>> good = b'{"event_id": "a", "model": "fraud-scorer", "ts": 0, "features": {}}'
    >>> other = b'{"event_id": "b", "model": "churn", "ts": 0, "features": {}}'
    >>> lines = [good, b'{"event_id": ', other]
    >>> events, dead = validator.decode_many(lines, ["f:1", "f:2", "f:3"])
    >>> [e.event_id for e in events], [d.reason for d in dead]
    (['a'], ['invalid_json: Input data was truncated', "unknown_model: 'churn' is not declared"])
    >>> dict(validator.rejected)
    {'invalid_json': 1, 'unknown_model': 1}
    """

    def __init__(
        self,
        kind: EventKind,
        models: Sequence[str] = (),
        max_bytes: int = MAX_EVENT_BYTES,
    ) -> None:
        self.kind = kind
        self.models = frozenset(models)
        self.max_bytes = max_bytes
        self._decode, self._decode_lines = _DECODERS[kind]
        self.accepted = 0
        self.rejected: Counter[str] = Counter()

    def decode(
        self, payload: bytes | None, source: str, origin: Origin | None = None
    ) -> tuple[list[E], list[DeadLetter]]:
        """The events in one message or line, and dead letters for what was refused.

        ``payload`` None is a Kafka message without a value (a tombstone, or an empty
        value sent as null); ``origin`` says where a Kafka message was.
        """
        if payload is None:
            reason = "the message has no value (a tombstone, or an empty value sent as null)"
            return [], [self.dead_letter(payload, source, "null_value", reason, origin)]
        if len(payload) > self.max_bytes:
            limit = f"{len(payload)} bytes > limit of {self.max_bytes}"
            return [], [self.dead_letter(payload, source, "oversize", limit, origin)]
        batch = payload.lstrip()[:1] == b"["
        try:
            events: list[E] = self._decode(payload)
        except msgspec.ValidationError as error:  # a subclass of DecodeError: first
            if batch:
                return self._decode_elements(payload, source, origin)
            return [], [self.dead_letter(payload, source, "invalid_event", str(error), origin)]
        except _BAD_JSON as error:
            return [], [self.dead_letter(payload, source, "invalid_json", str(error), origin)]
        if all(e.model in self.models for e in events) or not self.models:
            self.accepted += len(events)
            return events, []
        if batch:
            return self._decode_elements(payload, source, origin)
        reason = f"{events[0].model!r} is not declared"
        return [], [self.dead_letter(payload, source, "unknown_model", reason, origin)]

    def decode_many(
        self, payloads: Sequence[bytes], sources: Iterable[str]
    ) -> tuple[list[E], list[DeadLetter]]:
        """Decode several messages or lines (without their line ends); events keep their order.

        The common case, all valid single events, is decoded in one call as JSON lines;
        anything else is judged message by message, exactly as :meth:`decode` does.
        """
        joined = b"\n".join(payloads)
        if joined.count(b"\n") == len(payloads) - 1 and all(
            len(p) <= self.max_bytes for p in payloads
        ):
            try:
                events: list[E] = self._decode_lines(joined)
            except _BAD_JSON:
                pass  # find the culprits one by one below
            else:
                if len(events) == len(payloads) and (
                    not self.models or all(e.model in self.models for e in events)
                ):
                    self.accepted += len(events)
                    return events, []
        events = []
        dead: list[DeadLetter] = []
        for payload, source in zip(payloads, sources, strict=True):
            good, bad = self.decode(payload, source)
            events += good
            dead += bad
        return events, dead

    def decode_lines(
        self, lines: Sequence[bytes], name: str, first: int = 1
    ) -> tuple[list[E], list[DeadLetter]]:
        """Decode lines of a file (with their line ends), the first being line ``first``.

        Blank lines are skipped; refusals name ``name:line``.
        """
        if lines and max(map(len, lines)) <= self.max_bytes + 2:  # + a CRLF line end
            try:
                events: list[E] = self._decode_lines(b"".join(lines))
            except _BAD_JSON:
                pass  # find the culprits one by one below
            else:
                if not self.models or all(e.model in self.models for e in events):
                    self.accepted += len(events)
                    return events, []
        events = []
        dead: list[DeadLetter] = []
        for number, line in enumerate(lines, first):
            payload = line.rstrip(b"\r\n")
            if payload.isspace() or not payload:
                continue
            good, bad = self.decode(payload, f"{name}:{number}")
            events += good
            dead += bad
        return events, dead

    def _decode_elements(
        self, payload: bytes, source: str, origin: Origin | None
    ) -> tuple[list[E], list[DeadLetter]]:
        """A batch with a refused event: judge each event of the array on its own, as sent."""
        events: list[E] = []
        dead: list[DeadLetter] = []
        for i, element in enumerate(msgspec.json.decode(payload, type=list[msgspec.Raw])):
            good, bad = self.decode(bytes(element), f"{source}[{i}]", origin)
            events += good
            dead += bad
        return events, dead

    def dead_letter(
        self,
        payload: bytes | None,
        source: str,
        problem: str,
        message: str,
        origin: Origin | None = None,
    ) -> DeadLetter:
        """Count a refusal of kind ``problem`` and make its dead letter."""
        self.rejected[problem] += 1
        if origin is None:
            return DeadLetter.of(payload, source, f"{problem}: {message}")
        topic, partition, offset, key = origin
        return DeadLetter.of(
            payload,
            source,
            f"{problem}: {message}",
            topic=topic,
            partition=partition,
            offset=offset,
            key=key,
        )
