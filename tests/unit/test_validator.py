"""Validator: nothing a producer sends stops it; every refusal is a counted dead letter."""

import base64
import hashlib
import json

import pytest

from monitor.validate.validator import Origin, Validator
from schemas.dead_letter import DEAD_LETTER_PAYLOAD_BYTES, DeadLetter
from schemas.wire import WirePrediction


def _event(event_id: str, model: str = "m", **extra: object) -> bytes:
    return json.dumps(
        {"event_id": event_id, "model": model, "ts": 0, "features": {"x": 1.0}, **extra}
    ).encode()


GOOD = _event("a")


def test_a_valid_event_passes() -> None:
    validator: Validator[WirePrediction] = Validator("predictions")
    events, dead = validator.decode(GOOD, "f:1")
    assert [e.event_id for e in events] == ["a"]
    assert dead == []
    assert validator.accepted == 1
    assert validator.rejected == {}


def test_oversize_payload() -> None:
    validator: Validator[WirePrediction] = Validator("predictions", max_bytes=len(GOOD) - 1)
    events, dead = validator.decode(GOOD, "topic/0@7")
    assert events == []
    assert dead == [
        DeadLetter(
            source="topic/0@7",
            reason=f"oversize: {len(GOOD)} bytes > limit of {len(GOOD) - 1}",
            payload=GOOD.decode(),
            size=len(GOOD),
            sha256=hashlib.sha256(GOOD).hexdigest(),
        )
    ]
    assert validator.rejected == {"oversize": 1}
    assert Validator("predictions", max_bytes=len(GOOD)).decode(GOOD, "x")[1] == []


@pytest.mark.parametrize("payload", [b"{", b"", b"not json", GOOD + b"}", GOOD + b"," + GOOD])
def test_invalid_json(payload: bytes) -> None:
    validator: Validator[WirePrediction] = Validator("predictions")
    events, dead = validator.decode(payload, "f:2")
    assert events == []
    assert len(dead) == 1
    assert dead[0].reason.startswith("invalid_json: ")
    assert (dead[0].payload, dead[0].encoding, dead[0].source) == (payload.decode(), "utf-8", "f:2")
    assert validator.rejected == {"invalid_json": 1}
    assert validator.accepted == 0


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (_event("a", extra=1), "extra"),
        (_event("a", model="a b"), "model"),
        (b'{"event_id": "a", "model": "m", "ts": 0}', "features"),
        (b'{"event_id": "a", "model": "m", "ts": "2026-01-01T00:00:00", "features": {}}', "ts"),
        (b"null", "object"),
    ],
)
def test_invalid_event_names_the_field(payload: bytes, field: str) -> None:
    validator: Validator[WirePrediction] = Validator("predictions")
    events, dead = validator.decode(payload, "f:3")
    assert events == []
    assert len(dead) == 1
    assert dead[0].reason.startswith("invalid_event: ")
    assert field in dead[0].reason
    assert dead[0].payload == payload.decode()
    assert validator.rejected == {"invalid_event": 1}


def test_unknown_model() -> None:
    validator: Validator[WirePrediction] = Validator("predictions", models=["m"])
    events, dead = validator.decode(_event("a", model="other"), "f:4")
    assert events == []
    assert [d.reason for d in dead] == ["unknown_model: 'other' is not declared"]
    assert validator.rejected == {"unknown_model": 1}
    assert Validator("predictions").decode(_event("a", model="other"), "f:4")[1] == []


def test_unknown_model_keeps_the_original_payload() -> None:
    payload = _event("a", model="other")
    _, dead = Validator("predictions", models=["m"]).decode(payload, "f:4")
    assert dead[0].payload == payload.decode()


def test_batch_with_one_bad_event() -> None:
    validator: Validator[WirePrediction] = Validator("predictions")
    bad = {"event_id": "b", "model": "m", "ts": 0, "features": {"x": [1]}}
    payload = json.dumps(
        [json.loads(_event("a")), bad, json.loads(_event("c"))], separators=(",", ":")
    ).encode()
    events, dead = validator.decode(payload, "file:3")
    assert [e.event_id for e in events] == ["a", "c"]
    assert len(dead) == 1
    assert dead[0].source == "file:3[1]"
    assert dead[0].reason.startswith("invalid_event: ")
    assert json.loads(dead[0].payload) == bad
    assert validator.accepted == 2
    assert validator.rejected == {"invalid_event": 1}


def test_batch_of_good_events_and_its_order() -> None:
    validator: Validator[WirePrediction] = Validator("predictions")
    payload = b"[" + b",".join(_event(str(i)) for i in range(5)) + b"]"
    events, dead = validator.decode(payload, "f:1")
    assert [e.event_id for e in events] == ["0", "1", "2", "3", "4"]
    assert dead == []
    assert validator.accepted == 5


def test_batch_with_an_unknown_model() -> None:
    validator: Validator[WirePrediction] = Validator("predictions", models=["m"])
    payload = b"[" + _event("a") + b"," + _event("b", model="other") + b"]"
    events, dead = validator.decode(payload, "file:3")
    assert [e.event_id for e in events] == ["a"]
    assert [d.reason for d in dead] == ["unknown_model: 'other' is not declared"]
    assert validator.accepted == 1
    assert validator.rejected == {"unknown_model": 1}


def test_batch_with_an_unknown_model_names_the_element() -> None:
    payload = b"[" + _event("a") + b"," + _event("b", model="other") + b"]"
    _, dead = Validator("predictions", models=["m"]).decode(payload, "file:3")
    assert [d.source for d in dead] == ["file:3[1]"]


def test_non_utf8_payload_is_dead_lettered_as_base64() -> None:
    validator: Validator[WirePrediction] = Validator("predictions")
    payload = b"\xff\xfe{}"
    events, dead = validator.decode(payload, "f:5")
    assert events == []
    assert dead[0].encoding == "base64"
    assert base64.b64decode(dead[0].payload) == payload
    assert dead[0].reason.startswith("invalid_json: ")
    assert validator.rejected == {"invalid_json": 1}


LATIN1 = [
    pytest.param(_event("caf\xe9").decode("unicode_escape").encode("latin-1"), id="event-id"),
    pytest.param(
        b'{"event_id": "a", "model": "m", "ts": 0, "features": {"city": "K\xf6ln"}}', id="value"
    ),
    pytest.param(
        b'[{"event_id": "a", "model": "m", "ts": 0, "features": {"\xff": 1}}]', id="batch"
    ),
]


@pytest.mark.parametrize("payload", LATIN1)
def test_invalid_utf8_inside_a_string_is_dead_lettered(payload: bytes) -> None:
    validator: Validator[WirePrediction] = Validator("predictions")
    events, dead = validator.decode(payload, "f:6")
    assert events == []
    assert [(d.encoding, base64.b64decode(d.payload)) for d in dead] == [("base64", payload)]
    assert validator.decode_many([GOOD, payload], ["f:1", "f:2"])[0][0].event_id == "a"


def test_decode_many_sorts_good_from_bad_and_keeps_order() -> None:
    validator: Validator[WirePrediction] = Validator("predictions", models=["m"])
    payloads = [_event("a"), b"{oops", _event("b", model="other"), _event("c"), b"[" + GOOD + b"]"]
    events, dead = validator.decode_many(payloads, [f"f:{i}" for i in range(1, 6)])
    assert [e.event_id for e in events] == ["a", "c", "a"]
    assert [(d.source, d.reason.split(":")[0]) for d in dead] == [
        ("f:2", "invalid_json"),
        ("f:3", "unknown_model"),
    ]
    assert validator.accepted == 3
    assert validator.rejected == {"invalid_json": 1, "unknown_model": 1}


def test_decode_many_fast_path() -> None:
    validator: Validator[WirePrediction] = Validator("predictions")
    events, dead = validator.decode_many([_event(str(i)) for i in range(100)], map(str, range(100)))
    assert [e.event_id for e in events] == [str(i) for i in range(100)]
    assert dead == []
    assert validator.accepted == 100


@pytest.mark.parametrize(
    "lines",
    [
        pytest.param([GOOD + b"," + _event("b")], id="two-objects-on-a-line"),
        pytest.param(
            [b'{"event_id": "a", "model": "m"', b'"ts": 0, "features": {}}'], id="split-object"
        ),
    ],
)
def test_decode_many_judges_each_line_like_decode(lines: list[bytes]) -> None:
    sources = [f"f:{i}" for i in range(len(lines))]
    one_by_one: Validator[WirePrediction] = Validator("predictions")
    expected = [
        one_by_one.decode(line, source) for line, source in zip(lines, sources, strict=True)
    ]
    assert all(events == [] for events, _ in expected)
    validator: Validator[WirePrediction] = Validator("predictions")
    events, dead = validator.decode_many(lines, sources)
    assert events == []
    assert dead == [letter for _, letters in expected for letter in letters]


def test_labels_and_metrics() -> None:
    labels = Validator("labels")
    events, dead = labels.decode(b'{"event_id": "a", "model": "m", "ts": 0, "label": 1}', "l:1")
    assert [e.label for e in events] == [1.0]
    assert dead == []
    metrics = Validator("metrics")
    events, dead = metrics.decode(b'{"model": "m", "ts": 0, "name": "n", "value": "x"}', "m:1")
    assert events == []
    assert dead[0].reason.startswith("invalid_event: ")
    assert "value" in dead[0].reason


def test_a_message_without_value_is_one_dead_letter_with_its_origin() -> None:
    validator: Validator[WirePrediction] = Validator("predictions")
    origin = Origin("driftline.predictions", 2, 41, b"fraud-scorer")
    events, dead = validator.decode(None, origin.source, origin)
    assert events == []
    assert [(d.reason.split(":")[0], d.payload, d.size) for d in dead] == [("null_value", "", 0)]
    assert (dead[0].topic, dead[0].partition, dead[0].offset, dead[0].key) == (
        "driftline.predictions",
        2,
        41,
        "fraud-scorer",
    )
    assert validator.rejected == {"null_value": 1}


# Payloads near Kafka's 1 MiB message limit whose dead letter grew past it uncapped:
# invalid UTF-8 (base64: 4/3), quotes (JSON escapes: 2x), control characters (6x).
HOSTILE = [
    b"\xff" * 900_000,
    b'"' * 600_000,
    b"\x01" * 1_000_000,
    b'{"event_id": "' + "é".encode() * 500_000 + b'"}',
]


@pytest.mark.parametrize("payload", HOSTILE, ids=["invalid-utf8", "quotes", "control", "utf8"])
def test_a_dead_letter_fits_in_a_kafka_message_whatever_its_payload(payload: bytes) -> None:
    _, dead = Validator("predictions").decode(payload, "driftline.predictions/0@1")
    [letter] = dead
    assert len(letter.model_dump_json().encode()) < 1_000_000
    assert letter.truncated
    assert (letter.size, letter.sha256) == (len(payload), hashlib.sha256(payload).hexdigest())
    text = letter.payload
    kept = base64.b64decode(text) if letter.encoding == "base64" else text.encode()
    assert payload.startswith(kept)
    assert DEAD_LETTER_PAYLOAD_BYTES - 3 <= len(kept) <= DEAD_LETTER_PAYLOAD_BYTES


def test_a_binary_key_is_kept_as_base64() -> None:
    origin = Origin("t", 0, 1, b"\xff\x00key")
    [letter] = Validator("labels").decode(b"{", origin.source, origin)[1]
    assert (letter.key_encoding, base64.b64decode(letter.key or "")) == ("base64", b"\xff\x00key")
