"""The peers benchmark's bookkeeping: data set, ratios, verdicts, the results file."""

import numpy as np

from bench.peers import (
    END,
    HEADING,
    MEASUREMENTS,
    START,
    Result,
    Sample,
    generate,
    ratio_text,
    seconds_text,
    splice,
    table,
    verdict,
)


def test_the_data_set_is_seeded_and_shifts_five_numeric_features_only() -> None:
    reference, current, meta = generate(20_000, seed=3)
    again, _, _ = generate(20_000, seed=3)
    assert np.array_equal(reference["numeric"], again["numeric"])
    assert np.array_equal(reference["categorical"], again["categorical"])
    stds = np.array(meta["stds"])
    moved = (current["numeric"].mean(axis=0) - reference["numeric"].mean(axis=0)) / stds
    shifted = [meta["numeric"].index(name) for name in meta["shifted"]]
    assert len(shifted) == 5
    assert np.allclose(moved[shifted], 0.5, atol=0.05)
    assert np.abs(np.delete(moved, shifted)).max() < 0.05
    assert reference["categorical"].dtype.kind == "U"
    assert set(np.unique(reference["categorical"])) == {f"c{k}" for k in range(10)}


def test_ratios_and_seconds_are_short() -> None:
    assert seconds_text(3.14159) == "3.14"
    assert seconds_text(0.0123456) == "0.0123"
    assert ratio_text(50.0, 1.0) == "50x"
    assert ratio_text(0.5, 1.0) == "0.5x"
    assert ratio_text(1.0, None) == "-"


def test_verdict_counts_misses_and_false_alarms() -> None:
    output = {"tested": ["a", "b", "c", "d"], "flagged": ["b", "c"], "false_alarms": ["a"]}
    assert verdict(output, ["a", "b"], 4) == "1/2, false 2"


def test_a_rerun_replaces_only_its_own_section() -> None:
    created = splice(None, f"{HEADING}\n\nfirst")
    assert created.startswith("# Benchmark results")
    other = created + "\n## Streaming: replay\n\nkept\n"
    rerun = splice(other, f"{HEADING}\n\nsecond")
    assert rerun.count(START) == rerun.count(END) == 1
    assert "first" not in rerun
    assert "second" in rerun
    assert rerun.endswith("## Streaming: replay\n\nkept\n")
    assert splice(rerun, f"{HEADING}\n\nsecond") == rerun


def _result(key: str, parts: dict[str, float]) -> Result:
    measurement = next(m for m in MEASUREMENTS if m.key == key)
    output = {
        "calls": [{"parts": parts, "total": sum(parts.values())}],
        "tested": ["x", "y"],
        "flagged": ["x"],
        "false_alarms": [],
        "same_flags_every_call": True,
        "rss_before_mib": 100.0,
        "info": {"updates": 2_000_000},
    }
    return Result(measurement, [Sample(1.0, 150.0, output)])


def test_table_compares_like_with_like() -> None:
    meta = {"rows": 1000, "numeric": ["x"], "categorical": ["y"], "shifted": ["x"]}
    results = [
        _result("driftline", {"reference": 1.0, "statistics": 0.4, "tests": 0.1}),
        _result("driftline-rows", {"reference": 2.0, "statistics": 0.8, "tests": 0.1}),
        _result("numpy", {"reference": 0.1, "window": 0.05}),
        _result("evidently", {"report": 15.0}),
        _result("river-adwin", {"updates": 0.5}),
    ]
    rows = [line.split(" | ") for line in table(results, meta).splitlines()[2:]]
    ratios = [row[4] for row in rows]
    assert ratios == [
        *("1.0x", "1.0x", "1.0x"),
        *("2.0x", "1.8x", "1.9x"),  # rows against columns
        *("0.1x", "0.1x", "0.1x"),
        *("10x", "30x"),  # Evidently's report against driftline's total, then its window
        "4.0M updates/s",
    ]
    assert rows[2][5] == "1/1, false 0"
    assert rows[2][6] == "150 (+50) |"


def test_a_peer_that_failed_keeps_its_row_with_the_error() -> None:
    meta = {"rows": 1000, "numeric": ["x"], "categorical": ["y"], "shifted": ["x"]}
    failed = Result(next(m for m in MEASUREMENTS if m.key == "nannyml"), error="failed: boom")
    lines = table(
        [_result("driftline", {"reference": 1.0, "statistics": 0.4, "tests": 0.1}), failed], meta
    )
    assert lines.splitlines()[-1] == "| NannyML | `nannyml_drift.py` | failed: boom | | | | |"
