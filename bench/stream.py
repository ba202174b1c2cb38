"""The benchmarks' input: a seeded stream of four interleaved models, and its reference.

Four :class:`~producers.synthetic.SyntheticModel` services (20 numeric and 5 categorical
features each) are drawn in chunks and merged by event time with
:func:`~producers.synthetic.interleave`, then written as ``events.jsonl`` and
``labels.jsonl``. One model stays stationary; the others get a mean shift, a new
category and an accuracy drop half-way, so the alert path runs too. All models share
rate and label delay, so merging chunk by chunk gives the same order as merging whole
streams, in constant memory.

The reference is built with ``driftline reference build`` from a clean draw of the same
models (``stream=1``), labels included, anew on every run, by the code under test. The
streams are cached under ``bench/out/data/``, keyed by seed, size and a hash of
``producers/synthetic.py``; a run reuses them unless told ``fresh``.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import msgspec

import producers.synthetic
from monitor.reference.profile import FORMAT
from producers.synthetic import Drift, SyntheticModel, interleave

__all__ = [
    "MODELS",
    "OUT",
    "ROOT",
    "Stream",
    "build_reference",
    "clean_env",
    "driftline_executable",
    "prepare",
    "relative",
    "services",
]

ROOT = Path(__file__).resolve().parent.parent
"""The repository root (the benchmarks run from there)."""
OUT = ROOT / "bench" / "out"
DATA = OUT / "data"
MODELS = 4
REFERENCE_EVENTS = 20_000
"""Clean events per model summarised into the reference."""
CHUNK = 10_000
"""Events per model generated, merged and written at a time."""


@dataclass(frozen=True)
class Stream:
    """Files of one generated stream and their line counts."""

    events: Path
    labels: Path
    predictions: int
    label_count: int


def services(per_model: int, seed: int) -> list[SyntheticModel]:
    """The four models of the stream; drifts start half-way through each model's events."""
    onset = per_model // 2
    drifts = [
        [],
        [Drift("mean_shift", onset, ("num_00", "num_01"), magnitude=1.0)],
        [Drift("new_category", onset, ("cat_0",), magnitude=0.3)],
        [Drift("accuracy_drop", onset, magnitude=0.3)],
    ]
    return [
        SyntheticModel(f"model-{k}", version="1", seed=seed + k, drifts=drifts[k])
        for k in range(MODELS)
    ]


def driftline_executable() -> str:
    """The ``driftline`` script next to this interpreter, else the one on PATH."""
    beside = Path(sys.executable).with_name("driftline")
    if beside.is_file():
        return str(beside)
    found = shutil.which("driftline")
    if found is None:
        raise SystemExit("bench: cannot find the driftline command; pip install -e . first")
    return found


def clean_env(tree: Path | None = None) -> dict[str, str]:
    """This environment without ``DRIFTLINE_*`` settings, so every run uses the defaults.

    ``bench`` imports from the repository root; ``monitor``, ``schemas`` and ``producers``
    from ``tree`` when given (ahead of the editable install), else from the root too.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLINE_")}
    paths = (str(tree) if tree else None, str(ROOT), env.get("PYTHONPATH"))
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    return env


def _base(seed: int) -> Path:
    """Cache folder of one seed, version of the generator and reference format."""
    source = Path(producers.synthetic.__file__).read_bytes() + FORMAT.encode()
    return DATA / f"seed{seed}-{hashlib.sha256(source).hexdigest()[:10]}"


def prepare(events: int, seed: int, fresh: bool, log: Callable[[str], None]) -> Stream:
    """The stream of ``events`` predictions and their labels, generated or from the cache."""
    per_model = events // MODELS
    directory = _base(seed) / f"n{per_model * MODELS}"
    manifest = directory / "manifest.json"
    if fresh or not manifest.is_file():
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        started = time.perf_counter()
        log(f"generating {per_model * MODELS:,} events and labels in {relative(directory)}")
        _write_stream(directory, per_model, seed)
        manifest.write_text(json.dumps({"predictions": per_model * MODELS, "seed": seed}))
        log(f"generated in {time.perf_counter() - started:.1f} s")
    count = json.loads(manifest.read_text())["predictions"]
    return Stream(
        events=directory / "events.jsonl",
        labels=directory / "labels.jsonl",
        predictions=count,
        label_count=count,
    )


def _write_stream(directory: Path, per_model: int, seed: int) -> None:
    models = services(per_model, seed)
    encode = msgspec.json.Encoder().encode
    with (
        (directory / "events.jsonl").open("wb") as events_file,
        (directory / "labels.jsonl").open("wb") as labels_file,
    ):
        done = 0
        while done < per_model:
            n = min(CHUNK, per_model - done)
            drawn = [model.generate(n) for model in models]
            events = interleave([predictions for predictions, _ in drawn])
            labels = interleave([labels for _, labels in drawn])
            events_file.write(b"".join(encode(event) + b"\n" for event in events))
            labels_file.write(b"".join(encode(label) + b"\n" for label in labels))
            done += n


def build_reference(seed: int, log: Callable[[str], None], tree: Path | None = None) -> Path:
    """``driftline reference build`` over a clean, labelled draw of every model."""
    base = _base(seed)
    out = base / "ref.json"
    base.mkdir(parents=True, exist_ok=True)
    raw = base / "ref-events.jsonl"
    encode = msgspec.json.Encoder().encode
    with raw.open("wb") as file:
        for model in services(REFERENCE_EVENTS, seed):
            twin = SyntheticModel(model.name, model.version, seed=model.seed, stream=1)
            predictions, labels = twin.generate(REFERENCE_EVENTS)
            for event, label in zip(predictions, labels, strict=True):
                event["label"] = label["label"]
                file.write(encode(event) + b"\n")
    command = [driftline_executable(), "reference", "build", str(raw), "--out", str(out)]
    log("$ " + " ".join(relative(Path(part)) if "/" in part else part for part in command))
    subprocess.run(command, check=True, env=clean_env(tree), cwd=ROOT, capture_output=True)
    raw.unlink()
    return out


def relative(path: Path) -> str:
    """``path`` relative to the repository root when it is inside it."""
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)
