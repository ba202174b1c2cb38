"""Conformance: the pydantic contract (schemas/events.py) and the msgspec hot path
(schemas/wire.py) accept and reject the same documents, and decode them alike."""

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from schemas.events import LabelEvent, MetricEvent, PredictionEvent
from schemas.json_schema import json_schemas
from schemas.wire import (
    decode_label_lines,
    decode_labels,
    decode_metric_lines,
    decode_metrics,
    decode_prediction_lines,
    decode_predictions,
    event_seconds,
)

PROPERTY = settings(max_examples=80, derandomize=True, deadline=None, database=None)

MODELS: dict[str, tuple[type[BaseModel], Callable[[bytes], list[Any]]]] = {
    "prediction": (PredictionEvent, decode_predictions),
    "label": (LabelEvent, decode_labels),
    "metric": (MetricEvent, decode_metrics),
}

BASE: dict[str, dict[str, Any]] = {
    "prediction": {"event_id": "e1", "model": "fraud-scorer", "ts": 0, "features": {"x": 1.5}},
    "label": {"event_id": "e1", "model": "fraud-scorer", "ts": 0, "label": True},
    "metric": {"model": "fraud-scorer", "ts": 0, "name": "latency_ms", "value": 12.0},
}


def _doc(kind: str, drop: tuple[str, ...] = (), **changes: Any) -> str:
    document = {k: v for k, v in BASE[kind].items() if k not in drop}
    document.update(changes)
    return json.dumps(document)


def _raw(kind: str, field: str, raw: str) -> str:
    """A document whose ``field`` holds ``raw`` JSON text (NaN, 1e400, ...)."""
    document = dict(BASE[kind])
    document[field] = "@@"
    return json.dumps(document).replace('"@@"', raw)


VALID = [
    ("prediction", _doc("prediction"), "minimal"),
    (
        "prediction",
        json.dumps(
            {
                "event_id": "7f3a",
                "model": "fraud-scorer",
                "model_version": "3",
                "ts": "2026-11-27T10:00:00Z",
                "features": {"amount": 12.5, "country": "DE", "age": None, "is_new": True},
                "prediction": 0.83,
                "label": None,
            }
        ),
        "design-example",
    ),
    ("prediction", _doc("prediction", ts="2026-11-27T10:00:00.25+05:30"), "offset-fraction"),
    ("prediction", _doc("prediction", ts="2026-11-27t10:00:00z"), "lowercase-t-z"),
    ("prediction", _doc("prediction", ts=1795773600), "epoch-int"),
    ("prediction", _doc("prediction", ts=1795773600.5), "epoch-float"),
    ("prediction", _doc("prediction", prediction="cat"), "prediction-class"),
    ("prediction", _doc("prediction", prediction={"cat": 0.2, "dog": 0.8}), "prediction-probs"),
    ("prediction", _doc("prediction", prediction=None, label=None), "prediction-null"),
    ("prediction", _doc("prediction", prediction=3, label=4), "ints"),
    ("prediction", _doc("prediction", label="dog"), "label-class"),
    ("prediction", _doc("prediction", label=False), "label-flag"),
    ("prediction", _doc("prediction", features={}), "no-features"),
    ("prediction", _doc("prediction", features={f"f{i}": i for i in range(1000)}), "1000-features"),
    ("prediction", _doc("prediction", features={"x" * 128: 1.0}), "name-128"),
    ("prediction", _doc("prediction", features={"c": "v" * 1024}), "category-1024"),
    ("prediction", _doc("prediction", features={"größe": "ü", "n": -0.0}), "unicode"),
    ("prediction", _doc("prediction", event_id="e" * 128, model="m" * 128), "ids-128"),
    ("prediction", _doc("prediction", model="fraud.scorer_v2-X"), "model-punctuation"),
    ("prediction", _doc("prediction", model_version="v" * 128), "version-128"),
    ("prediction", "  " + _doc("prediction") + "\n", "whitespace"),
    ("label", _doc("label"), "label"),
    ("label", _doc("label", label=0.5, ts="2026-01-01T00:00:00-08:00"), "label-number"),
    ("label", _doc("label", label=""), "label-empty-string"),
    ("metric", _doc("metric"), "metric"),
    ("metric", _doc("metric", value=3, tags={"region": "eu"}), "metric-tags"),
    ("metric", _doc("metric", tags={f"t{i}": "v" for i in range(64)}), "64-tags"),
    ("metric", _doc("metric", model_version="7"), "metric-version"),
]

INVALID = [
    ("prediction", "{", "truncated"),
    ("prediction", "", "empty"),
    ("prediction", "null", "null"),
    ("prediction", "42", "number"),
    ("prediction", '"event"', "string"),
    ("prediction", _doc("prediction") + "{}", "trailing"),
    ("prediction", _doc("prediction", drop=("event_id",)), "missing-event-id"),
    ("prediction", _doc("prediction", drop=("model",)), "missing-model"),
    ("prediction", _doc("prediction", drop=("ts",)), "missing-ts"),
    ("prediction", _doc("prediction", drop=("features",)), "missing-features"),
    ("prediction", _doc("prediction", extra=1), "extra-field"),
    ("prediction", _doc("prediction", event_id=5), "event-id-number"),
    ("prediction", _doc("prediction", model=5), "model-number"),
    ("prediction", _doc("prediction", model_version=3), "version-number"),
    ("prediction", _doc("prediction", model_version=None), "version-null"),
    ("prediction", _doc("prediction", features=[1.0]), "features-array"),
    ("prediction", _doc("prediction", features="x"), "features-string"),
    ("prediction", _doc("prediction", features=None), "features-null"),
    ("prediction", _doc("prediction", event_id=""), "event-id-empty"),
    ("prediction", _doc("prediction", event_id="e" * 129), "event-id-129"),
    ("prediction", _doc("prediction", model=""), "model-empty"),
    ("prediction", _doc("prediction", model="m" * 129), "model-129"),
    ("prediction", _doc("prediction", model_version=""), "version-empty"),
    ("prediction", _doc("prediction", model_version="v" * 129), "version-129"),
    ("prediction", _doc("prediction", model="fraud scorer"), "model-space"),
    ("prediction", _doc("prediction", model="fraud/scorer"), "model-slash"),
    ("prediction", _doc("prediction", model="modèle"), "model-accent"),
    ("prediction", _doc("prediction", model="m\u0000"), "model-nul"),
    ("prediction", _doc("prediction", features={"": 1.0}), "feature-name-empty"),
    ("prediction", _doc("prediction", features={"x" * 129: 1.0}), "feature-name-129"),
    ("prediction", _doc("prediction", features={"c": "v" * 1025}), "category-1025"),
    ("prediction", _doc("prediction", features={"x": [1.0]}), "feature-array"),
    ("prediction", _doc("prediction", features={"x": {"a": 1}}), "feature-object"),
    ("prediction", _doc("prediction", features={f"f{i}": i for i in range(1001)}), "1001-features"),
    ("prediction", _doc("prediction", ts="2026-11-27T10:00:00"), "ts-naive"),
    ("prediction", _doc("prediction", ts="2026-11-27"), "ts-date"),
    ("prediction", _doc("prediction", ts="yesterday"), "ts-words"),
    ("prediction", _doc("prediction", ts="2026-11-27T24:00:00Z"), "ts-hour-24"),
    ("prediction", _doc("prediction", ts="2026-11-27T10:00:00+25:00"), "ts-offset-25h"),
    ("prediction", _doc("prediction", ts=None), "ts-null"),
    ("prediction", _doc("prediction", ts={}), "ts-object"),
    ("prediction", _raw("prediction", "ts", "NaN"), "ts-nan-literal"),
    ("prediction", _doc("prediction", prediction={}), "prediction-empty-dict"),
    ("prediction", _doc("prediction", prediction=[0.1, 0.9]), "prediction-array"),
    ("prediction", _doc("prediction", prediction={"a": None}), "prediction-null-prob"),
    ("prediction", _doc("prediction", prediction={"": 0.5}), "prediction-empty-class"),
    (
        "prediction",
        _doc("prediction", prediction={f"c{i}": 0.001 for i in range(1001)}),
        "1001-classes",
    ),
    ("prediction", _doc("prediction", label=[1]), "label-array"),
    ("label", _doc("label", drop=("label",)), "label-missing"),
    ("label", _doc("label", label=None), "label-null"),
    ("label", _doc("label", label={"a": 1}), "label-object"),
    ("label", _doc("label", label="x" * 1025), "label-1025"),
    ("label", _doc("label", extra=1), "label-extra"),
    ("label", _doc("label", model="a/b"), "label-model-slash"),
    ("metric", _doc("metric", drop=("name",)), "metric-missing-name"),
    ("metric", _doc("metric", drop=("value",)), "metric-missing-value"),
    ("metric", _doc("metric", value=None), "metric-value-null"),
    ("metric", _doc("metric", name=""), "metric-name-empty"),
    ("metric", _doc("metric", name="n" * 129), "metric-name-129"),
    ("metric", _doc("metric", tags={"a": 1}), "tag-number"),
    ("metric", _doc("metric", tags={"a": None}), "tag-null"),
    ("metric", _doc("metric", tags=None), "tags-null"),
    ("metric", _doc("metric", tags={f"t{i}": "v" for i in range(65)}), "65-tags"),
    ("metric", _doc("metric", tags={"a": "v" * 1025}), "tag-1025"),
    # -- the two decoders disagree on these (the contract's answer: reject) --
    pytest.param(
        "prediction",
        _doc("prediction", ts="1700000000"),
        "ts-epoch-string",
    ),
    pytest.param(
        "prediction",
        _doc("prediction", ts=True),
        "ts-true",
    ),
    pytest.param(
        "prediction",
        _doc("prediction", ts="2026-11-27T10:00Z"),
        "ts-no-seconds",
    ),
    pytest.param(
        "prediction",
        _doc("prediction", ts=1e20),
        "ts-epoch-out-of-range",
    ),
    pytest.param(
        "metric",
        _doc("metric", value="12.5"),
        "value-string",
    ),
    pytest.param(
        "metric",
        _doc("metric", value=True),
        "value-true",
    ),
    pytest.param(
        "prediction",
        _doc("prediction", prediction=True),
        "prediction-true",
    ),
    pytest.param(
        "prediction",
        _doc("prediction", prediction={"a": True}),
        "prob-true",
    ),
    pytest.param(
        "prediction",
        _doc("prediction", prediction={"a": "0.5"}),
        "prob-string",
    ),
    pytest.param("metric", _raw("metric", "value", "NaN"), "value-nan-literal"),
    pytest.param("metric", _raw("metric", "value", "1e400"), "value-1e400"),
    pytest.param("label", _raw("label", "label", "1e400"), "label-1e400"),
    pytest.param(
        "prediction",
        _doc("prediction", features={"x": "@@"}).replace('"@@"', "9e999"),
        "feature-9e999",
    ),
    pytest.param(
        "prediction",
        _doc("prediction", model="fraud-scorer\n"),
        "model-trailing-newline",
    ),
    ("prediction", _doc("prediction", ts=-1.5), "epoch-before-1970"),
]


def _accepts(kind: str, document: str) -> tuple[bool, bool]:
    model, decode = MODELS[kind]
    try:
        model.model_validate_json(document)
        contract = True
    except ValidationError:
        contract = False
    try:
        decoded = decode(document.encode())
        wire = len(decoded) == 1
    except msgspec.DecodeError:  # ValidationError is one
        wire = False
    return contract, wire


def _ids(cases: list[Any]) -> list[str]:
    return [c.values[2] if hasattr(c, "values") else c[2] for c in cases]


@pytest.mark.parametrize(("kind", "document", "name"), VALID, ids=_ids(VALID))
def test_both_accept(kind: str, document: str, name: str) -> None:
    assert _accepts(kind, document) == (True, True)


@pytest.mark.parametrize(("kind", "document", "name"), INVALID, ids=_ids(INVALID))
def test_both_reject(kind: str, document: str, name: str) -> None:
    assert _accepts(kind, document) == (False, False)


@pytest.mark.parametrize(("kind", "document", "name"), VALID, ids=_ids(VALID))
def test_both_decode_the_same_values(kind: str, document: str, name: str) -> None:
    model, decode = MODELS[kind]
    _assert_same(model.model_validate_json(document), decode(document.encode())[0])


def _assert_same(contract: BaseModel, wire: msgspec.Struct) -> None:
    fields = contract.model_dump()
    assert set(fields) == set(wire.__struct_fields__)
    for name, value in fields.items():
        got = getattr(wire, name)
        if name == "ts":
            assert isinstance(value, datetime)
            assert value.tzinfo is not None
            if isinstance(got, datetime):  # same text, same instant
                assert got.timestamp() == value.timestamp(), (value, got)
            else:  # epoch seconds: a datetime holds whole microseconds
                assert got == pytest.approx(value.timestamp(), abs=1e-6), (value, got)
        else:
            assert got == value, name
            assert type(got) is type(value), name


def test_sub_microsecond_times_decode_alike() -> None:
    document = _doc("prediction", ts="2026-11-27T10:00:00.9999999Z")
    _assert_same(
        PredictionEvent.model_validate_json(document), decode_predictions(document.encode())[0]
    )


# -- generated valid events ----------------------------------------------------------------

NAMES = st.text(min_size=1, max_size=12)
MODEL_NAMES = st.text("abcXYZ019._-", min_size=1, max_size=20)
FLOATS = st.floats(allow_nan=False, allow_infinity=False)
CATEGORIES = st.text(max_size=20)
OFFSETS = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))
TIMES = st.one_of(
    st.datetimes(datetime(1971, 1, 1), datetime(2200, 1, 1), timezones=OFFSETS).map(
        lambda d: d.isoformat()
    ),
    st.datetimes(datetime(1971, 1, 1), datetime(2200, 1, 1)).map(lambda d: d.isoformat() + "Z"),
    st.integers(0, 7 * 10**9),
    st.floats(0, 7e9, allow_nan=False),
)
FEATURE_VALUES = st.one_of(
    FLOATS, st.integers(-(2**53), 2**53), CATEGORIES, st.booleans(), st.none()
)
LABELS = st.one_of(FLOATS, st.integers(-1000, 1000), CATEGORIES, st.booleans())
PREDICTIONS = st.one_of(
    FLOATS, CATEGORIES, st.dictionaries(NAMES, FLOATS, min_size=1, max_size=5), st.none()
)


def _optional(**fields: st.SearchStrategy[Any]) -> dict[str, st.SearchStrategy[Any]]:
    return fields


PREDICTION_EVENTS = st.fixed_dictionaries(
    {
        "event_id": st.text(min_size=1, max_size=40),
        "model": MODEL_NAMES,
        "ts": TIMES,
        "features": st.dictionaries(NAMES, FEATURE_VALUES, max_size=10),
    },
    optional=_optional(
        model_version=st.text(min_size=1, max_size=10),
        prediction=PREDICTIONS,
        label=st.one_of(LABELS, st.none()),
    ),
)
LABEL_EVENTS = st.fixed_dictionaries(
    {
        "event_id": st.text(min_size=1, max_size=40),
        "model": MODEL_NAMES,
        "ts": TIMES,
        "label": LABELS,
    }
)
METRIC_EVENTS = st.fixed_dictionaries(
    {
        "model": MODEL_NAMES,
        "ts": TIMES,
        "name": NAMES,
        "value": st.one_of(FLOATS, st.integers(-9, 9)),
    },
    optional=_optional(
        model_version=st.text(min_size=1, max_size=10),
        tags=st.dictionaries(NAMES, CATEGORIES, max_size=5),
    ),
)


@PROPERTY
@given(
    event=st.one_of(
        PREDICTION_EVENTS.map(lambda e: ("prediction", e)),
        LABEL_EVENTS.map(lambda e: ("label", e)),
        METRIC_EVENTS.map(lambda e: ("metric", e)),
    ),
    ascii_only=st.booleans(),
)
def test_generated_valid_events_decode_alike(
    event: tuple[str, dict[str, Any]], ascii_only: bool
) -> None:
    kind, document = event
    text = json.dumps(document, ensure_ascii=ascii_only)
    model, decode = MODELS[kind]
    contract = model.model_validate_json(text)
    decoded = decode(text.encode())
    assert len(decoded) == 1
    _assert_same(contract, decoded[0])
    # and a batch of it decodes to the same events
    batch = decode(("[" + text + "," + text + "]").encode())
    assert batch == [decoded[0], decoded[0]]


def test_epoch_and_rfc3339_times_agree() -> None:
    text = _doc("prediction", ts="1970-01-01T01:00:00+01:00")
    contract = PredictionEvent.model_validate_json(text)
    assert isinstance(contract.ts, datetime)  # an epoch number too becomes a UTC datetime
    assert contract.ts == datetime(1970, 1, 1, tzinfo=UTC)
    assert contract.ts.tzinfo == UTC
    assert PredictionEvent.model_validate_json(_doc("prediction", ts=0)).ts == contract.ts
    assert event_seconds(decode_predictions(text.encode())[0].ts) == 0.0


# -- JSON Schema ----------------------------------------------------------------------------


def test_json_schema_validates_valid_events_and_rejects_invalid_ones() -> None:
    import jsonschema  # a dev dependency

    schemas = json_schemas()
    checked = 0
    for kind, document, _ in VALID:
        name = {"prediction": "PredictionEvent", "label": "LabelEvent", "metric": "MetricEvent"}[
            kind
        ]
        validator = jsonschema.Draft202012Validator({**schemas, "$ref": f"#/$defs/{name}"})
        validator.validate(json.loads(document))
        checked += 1
    assert checked == len(VALID)
    validator = jsonschema.Draft202012Validator({**schemas, "$ref": "#/$defs/PredictionEvent"})
    invalid: list[dict[str, Any]] = [
        {"extra": 1},
        {"model": "a b"},
        {"features": {"x": [1]}},
        {"prediction": {}},
    ]
    for changes in invalid:
        assert not validator.is_valid(json.loads(_doc("prediction", **changes))), changes
    assert not validator.is_valid(json.loads(_doc("prediction", drop=("ts",))))


LINE_DECODERS: dict[str, Callable[[bytes], list[Any]]] = {
    "prediction": decode_prediction_lines,
    "label": decode_label_lines,
    "metric": decode_metric_lines,
}


@pytest.mark.parametrize("kind", ["prediction", "label", "metric"])
def test_a_bad_model_name_is_refused_after_good_ones_were_seen(kind: str) -> None:
    # model names are checked once per distinct name: a known name must not let
    # another, bad one through, in lines or in a batch
    good = _doc(kind, model="known-model").encode()
    bad = _doc(kind, model="known model").encode()
    assert len(LINE_DECODERS[kind](good + b"\n" + good)) == 2
    with pytest.raises(msgspec.ValidationError, match=r"matching regex .* - at `\$\.model`"):
        LINE_DECODERS[kind](good + b"\n" + bad)
    batch = {"prediction": decode_predictions, "label": decode_labels, "metric": decode_metrics}
    with pytest.raises(msgspec.ValidationError, match="matching regex"):
        batch[kind](b"[" + good + b"," + bad + b"]")
    assert len(batch[kind](good)) == 1
