"""The command line end to end: real files in, alerts and dead letters out."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from monitor.cli.main import main
from producers.synthetic import Drift, SyntheticModel, interleave
from schemas.alerts import Alert
from schemas.dead_letter import DeadLetter
from schemas.stats import FeatureStats


def write_jsonl(path: Path, items: list[dict[str, object]]) -> Path:
    path.write_bytes(b"".join(msgspec.json.encode(item) + b"\n" for item in items))
    return path


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two models, 6,000 events each; fraud-scorer shifts at event 3,000."""
    tmp = tmp_path_factory.mktemp("recorded")
    models = [
        SyntheticModel(
            "fraud-scorer",
            "3",
            seed=1,
            label_delay=60.0,
            drifts=[Drift("mean_shift", 3_000, ("num_00", "num_02"), magnitude=1.0)],
        ),
        SyntheticModel("churn", "1", seed=2, label_delay=60.0),
    ]
    generated = [m.generate(6_000) for m in models]
    events = write_jsonl(tmp / "events.jsonl", list(interleave(e for e, _ in generated)))
    labels = write_jsonl(tmp / "labels.jsonl", list(interleave(lab for _, lab in generated)))
    reference_events = []
    for model in models:
        twin_events, twin_labels = SyntheticModel(
            model.name, model.version, seed=model.seed, stream=1
        ).generate(4_000)
        for event, label in zip(twin_events, twin_labels, strict=True):
            event["label"] = label["label"]
        reference_events += twin_events
    reference = write_jsonl(tmp / "reference.jsonl", reference_events)
    config = tmp / "driftline.toml"
    config.write_text("[window]\nsize = 1000\nhop = 250\n")
    return {"events": events, "labels": labels, "reference": reference, "config": config}


def test_schema_prints_every_event_and_alert(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert {"PredictionEvent", "LabelEvent", "MetricEvent", "Alert"} <= set(schema["$defs"])


def test_schema_prints_the_dead_letter_and_feature_stats_schemas(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import jsonschema  # a dev dependency

    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    defs = schema["$defs"]
    assert (defs["DeadLetter"]["title"], defs["FeatureStats"]["title"]) == (
        "DeadLetter",
        "FeatureStats",
    )
    # from the models themselves: every field of each, and real records validate
    assert set(defs["DeadLetter"]["properties"]) == set(DeadLetter.model_fields)
    assert set(defs["FeatureStats"]["properties"]) == set(FeatureStats.model_fields)
    dead_letter = DeadLetter(source="driftline.predictions/0@7", reason="bad", payload="{")
    stats = FeatureStats(
        model="m",
        model_version="1",
        window={"start": "2026-11-27T10:00:00Z", "end": "2026-11-27T10:10:00Z", "events": 2},
        reference={"id": "m/1/ref-x", "events": 10},
        columns={"x": {"kind": "numeric", "values": 2, "missing_share": 0.0, "mean": 1.5}},
    )
    for name, record in (("DeadLetter", dead_letter), ("FeatureStats", stats)):
        validator = jsonschema.Draft202012Validator({**schema, "$ref": f"#/$defs/{name}"})
        validator.validate(record.model_dump(mode="json"))
        assert not validator.is_valid({}), name
    with pytest.raises(SystemExit):
        main(["schema", "--help"])
    described = " ".join(capsys.readouterr().out.split())
    assert "DeadLetter (driftline.dead-letter)" in described
    assert "FeatureStats (driftline.feature-stats)" in described


def test_reference_build_from_jsonl_is_versioned(
    recorded: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    assert main(["reference", "build", str(recorded["reference"]), "--out", str(first)]) == 0
    assert main(["reference", "build", str(recorded["reference"]), "--out", str(second)]) == 0
    built = json.loads(first.read_text())
    ids = sorted(p["id"] for p in built["profiles"])
    assert [i.rsplit("/", 1)[0] for i in ids] == ["churn/1", "fraud-scorer/3"]
    assert first.read_bytes() == second.read_bytes()
    profile = next(p for p in built["profiles"] if p["model"] == "churn")
    assert profile["events"] == 4_000
    assert profile["performance"]["task"] == "classification"
    assert "churn/1/ref-" in capsys.readouterr().err


def test_reference_build_from_csv(tmp_path: Path) -> None:
    source = tmp_path / "train.csv"
    with source.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["amount", "country", "is_new", "prediction"])
        for i in range(500):
            writer.writerow([i * 0.5, "DE" if i % 3 else "FR", i % 2 == 0, i / 500])
    out = tmp_path / "ref.json"
    assert main(["reference", "build", str(source), "--out", str(out)]) == 0
    profile = json.loads(out.read_text())["profiles"][0]
    assert (profile["model"], profile["model_version"]) == ("*", "*")
    layout = profile["features"]["layout"]
    assert layout["numeric"]["names"] == ["amount"]
    assert layout["categorical"]["names"] == ["country", "is_new"]
    assert layout["categorical"]["kinds"] == ["string", "boolean"]
    assert profile["prediction"] is not None


def test_replay_writes_alerts_and_is_deterministic(
    recorded: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "replay",
        str(recorded["events"]),
        "--reference",
        str(recorded["reference"]),
        "--labels",
        str(recorded["labels"]),
        "--config",
        str(recorded["config"]),
    ]
    assert main(args) == 0
    first = capsys.readouterr()
    assert main([*args, "--alerts", str(tmp_path / "alerts.jsonl")]) == 0
    assert (tmp_path / "alerts.jsonl").read_text() == first.out
    alerts = [Alert.model_validate_json(line) for line in first.out.splitlines()]
    drifting = {a.subject for a in alerts if a.model == "fraud-scorer" and a.status == "firing"}
    assert {"num_00", "num_02"} <= drifting
    assert not [a for a in alerts if a.model == "churn" and a.kind == "feature_drift"]
    assert all(a.reference.id.startswith(f"{a.model}/") for a in alerts)
    assert "replayed 12,000 predictions, 12,000 labels" in first.err


FEATURES = """
[window]
size = 1000
hop = 250

[features."fraud-scorer".num_00]
tests = ["ks"]
thresholds = { ks = 1e-6 }
severity = "critical"
sequential = false

[features."fraud-scorer".num_02]
ignore = true

[features."*".num_05]
bins = 8
"""


def test_replay_and_reference_build_apply_per_feature_settings(
    recorded: dict[str, Path], tmp_path: Path
) -> None:
    """num_00 and num_02 drift (see test_replay_writes_alerts_and_is_deterministic)."""
    config = tmp_path / "features.toml"
    config.write_text(FEATURES)
    out = tmp_path / "alerts.jsonl"
    args = ["replay", str(recorded["events"]), "--reference", str(recorded["reference"])]
    assert main([*args, "--config", str(config), "--alerts", str(out)]) == 0
    alerts = [Alert.model_validate_json(line) for line in out.read_text().splitlines()]
    fraud = [a for a in alerts if a.model == "fraud-scorer" and a.status == "firing"]
    num_00 = [a for a in fraud if a.subject == "num_00"]
    assert num_00
    assert {(a.statistic, a.severity) for a in num_00} == {("ks", "critical")}
    assert all(a.threshold > 0 for a in num_00)
    assert not [a for a in alerts if a.subject == "num_02"]
    built = tmp_path / "ref.json"
    reference = ["reference", "build", str(recorded["reference"]), "--out", str(built)]
    assert main([*reference, "--config", str(config)]) == 0
    for profile in json.loads(built.read_text())["profiles"]:
        numeric = profile["features"]["layout"]["numeric"]
        widths = dict(zip(numeric["names"], map(len, numeric["edges"]), strict=True))
        assert (widths["num_05"], widths["num_04"]) == (7, 19)


def test_replay_dead_letters_bad_lines_and_goes_on(
    recorded: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = recorded["events"].read_bytes().splitlines(keepends=True)
    bad_lines = [
        b'{"event_id": "x1", "model": "churn", "ts": 0, "features": {"a": [1]}}\n',
        b"this is not json\n",
        b'{"event_id": "x2", "model": "bad model!", "ts": 0, "features": {}}\n',
        b"\xff\xfe\n",
        b"\n",
    ]
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_bytes(b"".join(good[:100] + bad_lines + good[100:]))
    dead_letters = tmp_path / "dlq.jsonl"
    code = main(
        [
            "replay",
            str(mixed),
            "--reference",
            str(recorded["reference"]),
            "--dead-letter",
            str(dead_letters),
            "--alerts",
            str(tmp_path / "a.jsonl"),
        ]
    )
    assert code == 0
    letters = [DeadLetter.model_validate_json(x) for x in dead_letters.read_text().splitlines()]
    assert [d.source for d in letters] == [
        "mixed.jsonl:101",
        "mixed.jsonl:102",
        "mixed.jsonl:103",
        "mixed.jsonl:104",
    ]
    assert letters[0].reason.startswith("invalid_event:")
    assert "features" in letters[0].reason
    assert letters[1].reason.startswith("invalid_json:")
    assert letters[2].reason.startswith("invalid_event:")
    assert "model" in letters[2].reason
    assert letters[3].encoding == "base64"
    err = capsys.readouterr().err
    assert "replayed 12,000 predictions" in err
    assert "4 refused" in err
    assert "predictions.invalid_event 2" in err


def test_replay_reports_each_models_label_join(
    recorded: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    strays = [
        {"event_id": f"no-such-{i}", "model": "churn", "ts": "2030-01-01T00:00:00Z", "label": 1}
        for i in range(2)
    ]
    labels = tmp_path / "labels.jsonl"
    labels.write_bytes(
        recorded["labels"].read_bytes() + write_jsonl(tmp_path / "s", strays).read_bytes()
    )
    args = ["replay", str(recorded["events"]), "--reference", str(recorded["reference"])]
    assert main([*args, "--labels", str(labels), "--alerts", str(tmp_path / "a.jsonl")]) == 0
    err = capsys.readouterr().err
    assert "churn: labels 6,000 matched, 2 held, 0 unmatched (0 expired, 0 evicted)" in err
    assert "fraud-scorer: labels 6,000 matched, 0 held, 0 unmatched" in err


def test_replay_dead_letters_models_past_the_cap_and_counts_them(
    recorded: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One model held (limits.max_models = 1): the other's predictions and labels are
    refused, counted on stderr and dead-lettered; the held model is monitored as before."""
    config = tmp_path / "driftline.toml"
    config.write_text(recorded["config"].read_text() + "[limits]\nmax_models = 1\n")
    dead_letters = tmp_path / "dlq.jsonl"
    args = ["replay", str(recorded["events"]), "--reference", str(recorded["reference"])]
    labels = ["--labels", str(recorded["labels"])]
    alerts = tmp_path / "alerts.jsonl"
    code = main([*args, *labels, "--config", str(config), "--alerts", str(alerts),
                 "--dead-letter", str(dead_letters)])  # fmt: skip
    assert code == 0
    first = msgspec.json.decode(recorded["events"].read_bytes().split(b"\n", 1)[0])["model"]
    other = ({"fraud-scorer", "churn"} - {first}).pop()
    letters = [DeadLetter.model_validate_json(x) for x in dead_letters.read_text().splitlines()]
    assert len(letters) == 12_000  # its 6,000 predictions and 6,000 labels
    assert {msgspec.json.decode(d.payload)["model"] for d in letters} == {other}
    assert {d.source for d in letters} == {"driftline.predictions", "driftline.labels"}
    assert letters[0].reason == (
        f"model_limit: {other!r} would be model 2 of this process, over limits.max_models (1)"
    )
    err = capsys.readouterr().err
    assert "replayed 6,000 predictions, 6,000 labels" in err
    assert "12000 refused" in err
    assert "labels.model_limit 6000, predictions.model_limit 6000" in err
    logged = [r.getMessage() for r in caplog.records if r.name == "driftline.limits"]
    assert logged
    assert logged[0].startswith("events refused by limits.max_models so far: ")
    held = [Alert.model_validate_json(line) for line in alerts.read_text().splitlines()]
    assert main([*args, *labels, "--config", str(recorded["config"])]) == 0
    unlimited = [Alert.model_validate_json(line) for line in capsys.readouterr().out.splitlines()]
    assert held == [a for a in unlimited if a.model == first]


def test_replay_without_reference_file_fails_clearly(
    recorded: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["replay", str(recorded["events"]), "--reference", "missing.json"])
    assert code == 2
    assert "reference missing.json does not exist" in capsys.readouterr().err


def test_replay_of_a_missing_events_file_fails_before_output(
    recorded: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["replay", "nope.jsonl", "--reference", str(recorded["reference"])])
    captured = capsys.readouterr()
    assert code == 2
    assert "cannot read nope.jsonl" in captured.err
    assert captured.out == ""


def test_invalid_config_names_the_setting(
    recorded: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[window]\nsize = 1000\nhop = 300\n")
    code = main(
        [
            "replay",
            str(recorded["events"]),
            "--reference",
            str(recorded["reference"]),
            "--config",
            str(config),
        ]
    )
    assert code == 2
    assert "window.hop (300.0) must divide window.size (1000.0)" in capsys.readouterr().err


def test_demo_runs_to_the_end_and_raises_alerts(tmp_path: Path) -> None:
    alerts = tmp_path / "alerts.jsonl"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "monitor.cli.main",
            "demo",
            "--events",
            "24000",
            "--rate",
            "0",
            "--alerts",
            str(alerts),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "driftline demo: 24,000 events" in done.stdout
    fired = [Alert.model_validate_json(x) for x in alerts.read_text().splitlines()]
    assert {(a.model, a.kind) for a in fired if a.status == "firing"} >= {
        ("fraud-scorer", "feature_drift"),
        ("churn-predictor", "performance_degradation"),
    }


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "driftline"
    done = subprocess.run([script, "--help"], capture_output=True, text=True, check=False)
    assert done.returncode == 0
    assert "replay" in done.stdout
    assert "demo" in done.stdout


def test_replay_with_event_time_windows(
    recorded: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "time.toml"
    config.write_text('[window]\nkind = "time"\nsize = 200\nhop = 50\n')
    args = ["replay", str(recorded["events"]), "--reference", str(recorded["reference"])]
    assert main([*args, "--config", str(config)]) == 0
    alerts = [Alert.model_validate_json(x) for x in capsys.readouterr().out.splitlines()]
    fired = [a for a in alerts if a.status == "firing" and a.subject == "num_00"]
    assert fired
    # 10 events/s: windows of 200 s hold 2,000 events; the shift starts at 300 s
    assert fired[0].window.events == 2_000
    assert fired[0].window.end.timestamp() - SyntheticModel("x").start >= 300


def test_replay_raises_metric_degradation(
    recorded: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    start = SyntheticModel("x").start
    metrics = [
        {
            "model": "churn",
            "model_version": "1",
            "ts": start + i,
            "name": "latency_ms",
            "value": 20.0 + (i % 5) + (40.0 if i >= 200 else 0.0),
        }
        for i in range(300)
    ]
    path = write_jsonl(tmp_path / "metrics.jsonl", metrics)
    args = [
        "replay",
        str(recorded["events"]),
        "--reference",
        str(recorded["reference"]),
        "--metrics",
        str(path),
    ]
    assert main(args) == 0
    alerts = [Alert.model_validate_json(x) for x in capsys.readouterr().out.splitlines()]
    latency = [a for a in alerts if a.kind == "metric_degradation"]
    assert [(a.subject, a.status) for a in latency] == [("latency_ms", "firing")]
    assert latency[0].topic == "driftline.degradation-alerts"
    # the window mean passes baseline + 20% at the third high value; fire_after = 2
    assert latency[0].window.end.timestamp() - start == 203
    assert latency[0].window.start.timestamp() - start == 203 - 19
