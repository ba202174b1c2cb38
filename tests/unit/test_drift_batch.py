"""Profiles and drift tests from columns (arrays, lists, DataFrame-like objects)."""

from typing import Any

import numpy as np
import pytest

from monitor.drift.batch import DriftCheck
from monitor.reference.build import ProfileBuilder, profile_columns
from monitor.settings import ReferenceSettings

SETTINGS = ReferenceSettings(bins=10)
NUMERIC = [f"num_{j}" for j in range(8)]
CATEGORICAL = ["country", "plan"]
SHIFTED = {"num_1", "num_5", "plan"}


def _columns(rng: np.random.Generator, rows: int, shifted: bool) -> dict[str, Any]:
    """Seeded columns; with ``shifted``, num_1 and num_5 move by 0.5 std and plan's mix
    changes."""
    columns: dict[str, Any] = {}
    for name in NUMERIC:
        shift = 0.5 if shifted and name in SHIFTED else 0.0
        columns[name] = rng.normal(shift, 1.0, rows)
    columns["country"] = rng.choice(["DE", "FR", "IT"], rows)
    plan_shares = [0.2, 0.3, 0.5] if shifted else [0.5, 0.3, 0.2]
    columns["plan"] = rng.choice(["free", "pro", "team"], rows, p=plan_shares)
    return columns


def test_a_profile_from_columns_is_the_profile_from_rows() -> None:
    rng = np.random.default_rng(1)
    rows = 3000
    amount = rng.normal(size=rows).tolist()
    amount[::7] = [None] * len(amount[::7])
    columns: dict[str, list[Any]] = {
        "amount": amount,
        "age": rng.integers(18, 90, rows).tolist(),
        "country": rng.choice(["DE", "FR", "IT"], rows).tolist(),
        "is_new": (rng.random(rows) < 0.3).tolist(),
    }
    columns["age"][5] = "forty"  # a mismatched value
    builder = ProfileBuilder("m", "1", SETTINGS)
    for i in range(rows):
        builder.add({name: values[i] for name, values in columns.items()})
    from_rows = builder.build()
    from_lists = profile_columns("m", "1", columns, SETTINGS)
    assert from_lists.id == from_rows.id
    assert from_lists.features.to_dict() == from_rows.features.to_dict()
    assert from_lists.features.layout.categorical.kinds == ("string", "boolean")
    assert from_lists.features.numeric.mismatched.tolist() == [1, 0]  # age, amount


def test_arrays_with_nan_give_the_profile_of_lists_with_none() -> None:
    rng = np.random.default_rng(2)
    amount = rng.normal(size=1000)
    amount[::5] = np.nan
    country = rng.choice(["DE", "FR"], 1000).astype(object)
    country[::4] = np.nan  # how pandas marks a missing string
    arrays = profile_columns("m", "1", {"amount": amount, "country": country}, SETTINGS)
    lists = profile_columns(
        "m",
        "1",
        {
            "amount": [None if np.isnan(v) else v for v in amount.tolist()],
            "country": [None if v is np.nan else v for v in country.tolist()],
        },
        SETTINGS,
    )
    assert arrays.features.layout.categorical.names == ("country",)
    assert arrays.features.categorical.missing.tolist() == [250]
    assert arrays.features.numeric.missing.tolist() == [200]
    assert arrays.id == lists.id


def test_a_large_reference_is_sampled_to_max_events() -> None:
    rng = np.random.default_rng(3)
    settings = ReferenceSettings(bins=10, max_events=1000)
    profile = profile_columns("m", "1", {"x": rng.normal(size=5000)}, settings)
    assert profile.events == 5000
    assert int(profile.features.numeric.count[0]) == 1000
    again = profile_columns("m", "1", {"x": rng.normal(size=5000)}, settings)
    assert again.features.numeric.count.tolist() == [1000]


def test_columns_of_unequal_length_are_refused() -> None:
    with pytest.raises(ValueError, match="columns differ in length"):
        profile_columns("m", "1", {"a": [1.0, 2.0], "b": ["x"]}, SETTINGS)
    with pytest.raises(ValueError, match="1 predictions for 2 rows of features"):
        profile_columns("m", "1", {"a": [1.0, 2.0]}, SETTINGS, [0.5], [1, 0])


@pytest.mark.parametrize("seed", [10, 11, 12])
def test_drift_check_finds_the_shifted_features_only(seed: int) -> None:
    rng = np.random.default_rng(seed)
    check = DriftCheck(_columns(rng, 20_000, shifted=False), profile=SETTINGS)
    quiet = check.test(_columns(rng, 20_000, shifted=False))
    assert [f.subject for f in quiet] == NUMERIC + CATEGORICAL
    assert not [f.subject for f in quiet if f.breached]
    drifted = check.test(_columns(rng, 20_000, shifted=True))
    assert {f.subject for f in drifted if f.breached} == SHIFTED


def test_lists_and_arrays_give_the_same_findings() -> None:
    rng = np.random.default_rng(4)
    reference = _columns(rng, 5000, shifted=False)
    current = _columns(rng, 5000, shifted=True)
    as_lists = {name: values.tolist() for name, values in current.items()}
    check = DriftCheck(reference, profile=SETTINGS)
    from_arrays = [(f.subject, f.breached, f.details) for f in check.test(current)]
    from_lists = [(f.subject, f.breached, f.details) for f in check.test(as_lists)]
    assert from_arrays == from_lists
    reused = DriftCheck(check.profile)  # a saved profile, as `driftline reference build` writes
    assert [(f.subject, f.breached, f.details) for f in reused.test(current)] == from_arrays


def test_features_absent_from_the_current_set_are_not_tested() -> None:
    rng = np.random.default_rng(5)
    check = DriftCheck(_columns(rng, 5000, shifted=False), profile=SETTINGS)
    current = _columns(rng, 5000, shifted=False)
    del current["num_0"], current["plan"]
    current["unknown"] = np.zeros(5000)
    findings = check.test(current)
    assert {f.subject for f in findings} == set(NUMERIC + CATEGORICAL) - {"num_0", "plan"}
    summary = check.summarize(current)
    assert summary.numeric.missing.tolist()[0] == 5000
