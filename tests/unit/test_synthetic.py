"""The synthetic streams' drifts mean what :class:`producers.synthetic.Drift` says, on
every varied shape: checked on the raw values with numpy against the same draw without
the drift (same seed and stream, so the same underlying values but for Poisson counts,
which are drawn anew)."""

from functools import cache

import numpy as np
import numpy.typing as npt
import pytest

from producers.synthetic import VARIED_NUMERIC, Drift, DriftKind, SyntheticModel

EVENTS = 10_000
NUMERIC = tuple(f"num_{j:02d}" for j in range(len(VARIED_NUMERIC)))
SHAPES = [pytest.param(j, id=f"{shape.kind}-{j}") for j, shape in enumerate(VARIED_NUMERIC)]


@cache
def _values(kind: DriftKind | None, magnitude: float = 0.0) -> npt.NDArray[np.float64]:
    """Every numeric feature (a column each, NaN = missing) of ``EVENTS`` events of one
    varied model, every feature drifted from the start by ``kind`` (``None``: clean)."""
    drifts = [] if kind is None else [Drift(kind, 0, NUMERIC, magnitude=magnitude)]
    events = SyntheticModel("m", seed=4, shapes="varied", drifts=drifts).predictions(EVENTS)
    rows = [[e.features[name] for name in NUMERIC] for e in events]
    return np.array(rows, dtype=float)  # None -> NaN


@pytest.mark.parametrize("j", SHAPES)
def test_variance_ratio_holds_and_support_is_kept(j: int) -> None:
    clean, drifted = _values(None)[:, j], _values("variance", 2.0)[:, j]
    kind = VARIED_NUMERIC[j].kind
    exact = kind not in ("poisson", "rounded")
    ratio = np.nanvar(drifted) / np.nanvar(clean)
    assert ratio == pytest.approx(2.0, rel=1e-4 if exact else 0.08)
    if kind in ("lognormal", "zero_inflated", "poisson"):
        assert np.nanmin(drifted) >= 0.0
    if kind == "pareto":
        assert np.nanmin(drifted) >= np.nanmin(clean)
    if kind in ("poisson", "rounded"):
        present = drifted[~np.isnan(drifted)]
        np.testing.assert_array_equal(present, np.round(present))
    if kind == "poisson":  # overdispersed, same mean
        assert np.nanmean(drifted) == pytest.approx(np.nanmean(clean), rel=0.05)


@pytest.mark.parametrize("j", SHAPES)
def test_mean_shift_moves_the_mean_by_that_many_sds(j: int) -> None:
    clean, drifted = _values(None)[:, j], _values("mean_shift", 0.5)[:, j]
    sd = SyntheticModel("m", seed=4, shapes="varied").sds[j]
    # Poisson counts are drawn anew at the higher rate, zero-inflated values keep their
    # zeros: both move the mean by 0.5 sd up to sampling error
    assert (np.nanmean(drifted) - np.nanmean(clean)) / sd == pytest.approx(0.5, abs=0.05)


def test_constant_takes_the_reference_median_and_the_most_common_category() -> None:
    model = SyntheticModel(
        "m", seed=4, shapes="varied", drifts=[Drift("constant", 100, ("num_05", "cat_0"))]
    )
    events = model.predictions(1_000)
    assert {e.features["num_05"] for e in events[100:]} == {round(float(model.medians[5]), 4)}
    reference = SyntheticModel("m", seed=4, stream=1, shapes="varied").predictions(EVENTS)
    values = np.array([e.features["num_05"] for e in reference])
    assert model.medians[5] == pytest.approx(np.median(values), rel=0.02)
    categories = [e.features["cat_0"] for e in reference]
    most_common = max(set(categories), key=categories.count)
    assert {e.features["cat_0"] for e in events[100:]} == {most_common}


def test_varied_features_have_rare_categories_and_missing_values() -> None:
    events = SyntheticModel("m", seed=4, shapes="varied").predictions(EVENTS)
    for name in ("cat_0", "cat_3"):
        values = [e.features[name] for e in events]
        rarest = min(values.count(c) for c in set(values) - {None})
        assert rarest / len(values) < 0.005, name
    missing = np.mean([e.features["num_08"] is None for e in events])
    assert missing == pytest.approx(0.05, abs=0.01)
    assert {type(e.features["flag"]) for e in events} == {bool}


def test_a_drift_that_ends_leaves_the_stream_as_it_was() -> None:
    drift = Drift("mean_shift", 1_000, ("num_00",), magnitude=3.0, end=2_000)
    clean = SyntheticModel("m", seed=4, shapes="varied").predictions(3_000)
    drifted = SyntheticModel("m", seed=4, shapes="varied", drifts=[drift]).predictions(3_000)
    assert [e.features for e in drifted[2_000:]] == [e.features for e in clean[2_000:]]
    assert drifted[1_500].features["num_00"] != clean[1_500].features["num_00"]
