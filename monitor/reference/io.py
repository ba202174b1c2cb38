"""Read references: a built profile file (.json), PredictionEvents (.jsonl) or a CSV.

A CSV has one column per feature and no model, so its profile applies to every model
(and a column named ``prediction`` is read as the prediction, ``label`` as the label).
"""

import csv
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from monitor.errors import InputError
from monitor.reference.build import build_reference_set
from monitor.reference.profile import ANY, ReferenceSet
from monitor.settings import FeatureSettings, ReferenceSettings
from monitor.stats.loss import Label, Prediction
from monitor.validate.jsonl import read_jsonl
from monitor.validate.validator import Validator

__all__ = ["csv_value", "read_reference", "write_reference"]

Row = tuple[str, str, Mapping[str, Any], Prediction, Label | None]


def csv_value(text: str) -> float | str | bool | None:
    """A CSV cell as the value a producer would have sent.

    >>> [csv_value(t) for t in ["", "3.5", "true", "False", "DE", "NA"]]
    [None, 3.5, True, False, 'DE', None]
    """
    if text in ("", "NA", "NaN", "nan", "null", "None"):
        return None
    if text in ("true", "True", "TRUE"):
        return True
    if text in ("false", "False", "FALSE"):
        return False
    try:
        return float(text)
    except ValueError:
        return text


def _csv_rows(path: Path) -> Iterator[Row]:
    with path.open(newline="", encoding="utf-8") as file:
        for record in csv.DictReader(file):
            row = {name: csv_value(text) for name, text in record.items() if name is not None}
            prediction = row.pop("prediction", None)
            label = row.pop("label", None)
            yield ANY, ANY, row, prediction if not isinstance(prediction, bool) else None, label


def _jsonl_rows(path: Path, rejected: list[str]) -> Iterator[Row]:
    for chunk in read_jsonl(path, Validator("predictions")):
        rejected += [f"{d.source}: {d.reason}" for d in chunk.dead]
        for e in chunk.events:
            yield e.model, e.model_version, e.features, e.prediction, e.label


def read_reference(
    path: Path,
    settings: ReferenceSettings,
    features: Mapping[str, Mapping[str, FeatureSettings]] | None = None,
) -> ReferenceSet:
    """The reference set in ``path``: built (.json), events (.jsonl) or features (.csv),
    built with the bins ``features`` (the ``[features]`` settings) set.

    Raises :class:`~monitor.errors.InputError` when the file cannot be read or holds no
    usable row.
    """
    if not path.is_file():
        raise InputError(f"reference {path} does not exist")
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            return ReferenceSet.from_dict(json.loads(path.read_bytes()))
        rejected: list[str] = []
        if suffix == ".csv":
            references = build_reference_set(_csv_rows(path), settings, features)
        elif suffix in (".jsonl", ".ndjson"):
            references = build_reference_set(_jsonl_rows(path, rejected), settings, features)
        else:
            raise InputError(
                f"reference {path}: expected .json (built), .jsonl (PredictionEvents) or .csv"
            )
    except (OSError, UnicodeDecodeError, ValueError, KeyError) as error:
        raise InputError(f"cannot read reference {path}: {error}") from error
    if not len(references):
        reasons = "; ".join(rejected[:3])
        raise InputError(
            f"reference {path} holds no valid event" + (f" ({reasons})" if reasons else "")
        )
    return references


def write_reference(references: ReferenceSet, out: Path) -> None:
    """Write a built reference set as JSON."""
    out.write_text(json.dumps(references.to_dict(), separators=(",", ":")) + "\n")
