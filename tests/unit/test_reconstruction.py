"""Joint drift's PCA, its per-pane accumulator and its finding, against numpy and the
textbook formulas on raw rows."""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from monitor.drift.joint import joint_findings
from monitor.errors import ConfigError
from monitor.findings import Finding
from monitor.model_monitor import ModelMonitor
from monitor.reference.build import ProfileBuilder, profile_columns
from monitor.reference.profile import ReferenceProfile, ReferenceSet
from monitor.settings import (
    DriftSettings,
    JointSettings,
    MonitorSettings,
    ReferenceSettings,
    load_settings,
)
from monitor.stats.reconstruction import CAP_QUANTILE, Reconstruction, ReconstructionSummary
from monitor.stats.window import WindowSummary
from schemas.alerts import AlertKind
from schemas.wire import WirePrediction

NAMES = tuple(f"x{j}" for j in range(6))
SETTINGS = ReferenceSettings()


def correlated(rng: np.random.Generator, rows: int, rho: float = 0.8) -> np.ndarray:
    """Six skewed columns, the first two correlated ``rho``, a few values missing."""
    values = rng.normal(size=(rows, len(NAMES)))
    values[:, 1] = rho * values[:, 0] + math.sqrt(1 - rho**2) * values[:, 1]
    values[:, 3] = np.exp(values[:, 3])
    values[:, 4] = 10 + 3 * values[:, 4]
    values[rng.random(values.shape) < 0.02] = np.nan
    return values


@pytest.fixture
def fitted() -> tuple[Reconstruction, np.ndarray]:
    values = correlated(np.random.default_rng(0), 3000)
    pca = Reconstruction.fit(NAMES, values, 0.65)
    assert pca is not None
    return pca, values


def test_pca_matches_numpy(fitted: tuple[Reconstruction, np.ndarray]) -> None:
    pca, values = fitted
    mean = np.nanmean(values, axis=0)
    filled = np.where(np.isnan(values), mean, values)
    np.testing.assert_allclose(pca.mean, mean)
    np.testing.assert_allclose(pca.scale, filled.std(axis=0))
    standard = ((filled - mean) / filled.std(axis=0))[::2]
    eigenvalues, eigenvectors = np.linalg.eigh(standard.T @ standard)
    order = np.argsort(eigenvalues)[::-1]
    share = np.cumsum(eigenvalues[order]) / eigenvalues.sum()
    kept = int(np.argmax(share > 0.65)) + 1
    assert pca.components.shape == (kept, len(NAMES))
    axes = eigenvectors[:, order[:kept]]
    # the same subspace (axes are defined up to sign): equal projectors
    np.testing.assert_allclose(pca.components.T @ pca.components, axes @ axes.T, atol=1e-10)


def test_error_is_the_textbook_distance_on_raw_rows(
    fitted: tuple[Reconstruction, np.ndarray],
) -> None:
    pca, _ = fitted
    rows = correlated(np.random.default_rng(1), 50, rho=-0.8)
    rows[3, 2] = np.inf
    expected = []
    for row in rows:
        z = np.array(
            [
                0.0 if not math.isfinite(v) else (v - m) / s
                for v, m, s in zip(row, pca.mean, pca.scale, strict=True)
            ]
        )
        reconstruction = sum(float(c @ z) * c for c in pca.components)
        expected.append(min(math.dist(z, reconstruction), pca.error_cap))
    np.testing.assert_allclose(pca.errors(rows), expected, rtol=1e-12)


def test_reference_error_is_measured_on_held_out_rows(
    fitted: tuple[Reconstruction, np.ndarray],
) -> None:
    pca, values = fitted
    held_out = values[1::2]
    raw = np.linalg.norm(pca.residuals(held_out), axis=1)
    assert pca.error_cap == pytest.approx(np.quantile(raw, CAP_QUANTILE))
    capped = np.minimum(raw, pca.error_cap)
    assert pca.error_mean == pytest.approx(capped.mean())
    assert pca.error_var == pytest.approx(capped.var())
    assert pca.events == len(held_out)
    assert pca.residual_means.sum() == pytest.approx((capped**2).mean())


def test_no_pca_when_nothing_is_left_to_test() -> None:
    rng = np.random.default_rng(2)
    assert Reconstruction.fit(("a",), rng.normal(size=(100, 1)), 0.65) is None
    assert Reconstruction.fit(("a", "b"), rng.normal(size=(3, 2)), 0.65) is None
    independent = rng.normal(size=(100, 2))
    assert Reconstruction.fit(("a", "b"), independent, 0.999) is None  # both kept
    twins = np.repeat(rng.normal(size=(100, 1)), 2, axis=1)  # one component explains all
    assert Reconstruction.fit(("a", "b"), twins, 0.65) is None
    assert Reconstruction.fit(("a", "b"), independent, 0.3) is not None


def test_merged_panes_equal_one_pass(fitted: tuple[Reconstruction, np.ndarray]) -> None:
    pca, _ = fitted
    rows = correlated(np.random.default_rng(3), 900, rho=-0.8)
    whole = ReconstructionSummary(pca)
    whole.update(rows)
    parts = [ReconstructionSummary(pca) for _ in range(3)]
    for part, chunk in zip(parts, np.array_split(rows, [100, 550]), strict=True):
        part.update(chunk)
    merged = parts[0].copy()
    merged += parts[1]
    merged += ReconstructionSummary.from_dict(pca, json.loads(json.dumps(parts[2].to_dict())))
    errors = pca.errors(rows)
    assert merged.count == whole.count == 900
    assert merged.total == pytest.approx(whole.total) == pytest.approx(errors.sum())
    assert merged.squares == pytest.approx(whole.squares) == pytest.approx(errors @ errors)
    np.testing.assert_allclose(merged.residuals, whole.residuals)
    assert merged.variance() == pytest.approx(errors.var())
    assert parts[0].count == 100  # the copy is independent


def test_window_summary_holds_the_errors(fitted: tuple[Reconstruction, np.ndarray]) -> None:
    _, values = fitted
    profile = profile_columns("m", "1", dict(zip(NAMES, values.T, strict=True)), SETTINGS)
    assert profile.joint is not None
    layout = profile.features.layout
    rows = correlated(np.random.default_rng(4), 400)
    dicts = [
        {n: None if math.isnan(v) else v for n, v in zip(NAMES, row, strict=True)}
        for row in rows.tolist()
    ]
    ts = [float(i) for i in range(400)]
    first = WindowSummary(layout, None, joint=profile.joint)
    first.update(dicts[:150], [None] * 150, ts[:150])
    saved = json.loads(json.dumps(first.to_dict()))
    merged = WindowSummary.from_dict(layout, None, saved, joint=profile.joint).copy()
    rest = WindowSummary(layout, None, joint=profile.joint)
    rest.update(dicts[150:], [None] * 250, ts[150:])
    merged += rest
    whole = WindowSummary(layout, None, joint=profile.joint)
    whole.update(dicts, [None] * 400, ts)
    assert first.joint is not None
    assert merged.joint is not None
    assert whole.joint is not None
    assert (first.joint.count, merged.joint.count, whole.joint.count) == (150, 400, 400)
    assert whole.joint.total == pytest.approx(profile.joint.errors(rows).sum())
    assert merged.joint.total == pytest.approx(whole.joint.total)
    np.testing.assert_allclose(merged.joint.residuals, whole.joint.residuals)
    assert WindowSummary(layout, None).joint is None


def test_profile_round_trips_and_old_files_load(fitted: tuple[Reconstruction, np.ndarray]) -> None:
    _, values = fitted
    profile = profile_columns("m", "1", dict(zip(NAMES, values.T, strict=True)), SETTINGS)
    assert profile.joint is not None
    data = json.loads(json.dumps(ReferenceSet([profile]).to_dict()))
    loaded = ReferenceSet.from_dict(data).profiles[("m", "1")]
    assert loaded.joint is not None
    np.testing.assert_array_equal(loaded.joint.components, profile.joint.components)
    assert loaded.joint.error_cap == profile.joint.error_cap
    other = profile_columns(
        "m", "1", dict(zip(NAMES, values.T, strict=True)), ReferenceSettings(joint_variance=0.9)
    )
    assert other.id != profile.id  # the PCA is part of the content hash
    del data["profiles"][0]["joint"]  # a file written before joint drift
    old = ReferenceProfile.from_dict(data["profiles"][0])
    assert old.joint is None
    monitor = ModelMonitor("m", "1", old, MonitorSettings(window={"size": 200, "hop": 200}))
    events = [WirePrediction(str(i), "m", float(i), {n: 0.0 for n in NAMES}) for i in range(200)]
    [tested] = monitor.add(events, [float(i) for i in range(200)])
    assert tested.summary.joint is None
    assert not [f for f in tested.findings if f.statistic == "reconstruction_error"]


def window_of(pca: Reconstruction, rows: np.ndarray) -> ReconstructionSummary:
    summary = ReconstructionSummary(pca)
    summary.update(rows)
    return summary


def test_finding_is_a_z_test_of_the_mean(fitted: tuple[Reconstruction, np.ndarray]) -> None:
    pca, _ = fitted
    rng = np.random.default_rng(5)
    settings, drift = JointSettings(), DriftSettings()
    for rows in (correlated(rng, 1000), correlated(rng, 1000, rho=-0.8)):
        [finding] = joint_findings(pca, window_of(pca, rows), settings, drift)
        errors = pca.errors(rows)
        se = math.sqrt(pca.error_var * (1 / 1000 + 1 / pca.events))
        threshold = pca.error_mean + max(settings.z * se, settings.min_change * pca.error_mean)
        assert finding.kind == AlertKind.MULTIVARIATE_DRIFT
        assert finding.subject == "*"
        assert finding.statistic == "reconstruction_error"
        assert finding.score == pytest.approx(errors.mean())
        assert finding.threshold == pytest.approx(threshold)
        assert finding.breached == (errors.mean() >= threshold)
    assert finding.breached  # the flipped pair
    assert sorted(finding.details["contributors"][:2]) == ["x0", "x1"]
    json.dumps(finding.details)
    strict = JointSettings(min_change=1.0)  # the relative minimum binds too
    assert not joint_findings(pca, window_of(pca, rows), strict, drift)[0].breached


def test_no_finding_without_a_pca_or_enough_events(
    fitted: tuple[Reconstruction, np.ndarray],
) -> None:
    pca, values = fitted
    settings, drift = JointSettings(), DriftSettings()
    assert joint_findings(None, None, settings, drift) == []
    assert joint_findings(pca, window_of(pca, values[:99]), settings, drift) == []
    assert len(joint_findings(pca, window_of(pca, values[:100]), settings, drift)) == 1


def test_joint_drift_is_its_own_episode() -> None:
    share = Finding(AlertKind.MULTIVARIATE_DRIFT, "*", "drifted_share", 0.6, 0.5, True)
    joint = Finding(AlertKind.MULTIVARIATE_DRIFT, "*", "reconstruction_error", 3.0, 2.0, True)
    assert share.episode_key != joint.episode_key


def test_disabled_joint_drift_keeps_no_errors(fitted: tuple[Reconstruction, np.ndarray]) -> None:
    _, values = fitted
    builder = ProfileBuilder("m", "1", SETTINGS)
    for row in values[:500].tolist():
        builder.add({n: None if math.isnan(v) else v for n, v in zip(NAMES, row, strict=True)})
    profile = builder.build()
    assert profile.joint is not None
    settings = MonitorSettings(window={"size": 200, "hop": 200}, joint={"enabled": False})
    events = [WirePrediction(str(i), "m", float(i), {n: 0.0 for n in NAMES}) for i in range(200)]
    [tested] = ModelMonitor("m", "1", profile, settings).add(events, [0.0] * 200)
    assert tested.summary.joint is None


def test_bad_joint_setting_is_named(tmp_path: Path) -> None:
    config = tmp_path / "driftline.toml"
    config.write_text("[joint]\nz = -1\n")
    with pytest.raises(ConfigError, match=r"joint\.z"):
        load_settings(config)


def test_a_pca_holding_an_ignored_feature_is_not_used(
    fitted: tuple[Reconstruction, np.ndarray],
) -> None:
    _, values = fitted
    profile = profile_columns("m", "1", dict(zip(NAMES, values.T, strict=True)), SETTINGS)
    events = [WirePrediction(str(i), "m", float(i), {n: 0.0 for n in NAMES}) for i in range(200)]
    window = {"size": 200, "hop": 200}
    ignoring = MonitorSettings(window=window, features={"*": {"x3": {"ignore": True}}})
    [tested] = ModelMonitor("m", "1", profile, ignoring).add(events, [0.0] * 200)
    assert tested.summary.joint is None
    others = MonitorSettings(window=window, features={"*": {"other": {"ignore": True}}})
    [tested] = ModelMonitor("m", "1", profile, others).add(events, [0.0] * 200)
    assert tested.summary.joint is not None
