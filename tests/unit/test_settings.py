"""Settings: defaults, a TOML file, DRIFTLINE_* variables, and clear errors."""

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from monitor.errors import ConfigError, DriftlineError
from monitor.settings import (
    DriftSettings,
    MonitorSettings,
    PerformanceSettings,
    WindowSettings,
    load_settings,
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No DRIFTLINE_* variable of the machine running the tests leaks in."""
    for name in list(os.environ):
        if name.startswith("DRIFTLINE_"):
            monkeypatch.delenv(name)


def _toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "driftline.toml"
    path.write_text(text)
    return path


CONFIG = """
models = ["fraud-scorer"]

[window]
size = 1000
hop = 250

[drift]
null_z = 3.0
"""


def test_defaults_need_no_file() -> None:
    settings = load_settings(None)
    assert settings == MonitorSettings()
    assert (settings.window.size, settings.window.hop, settings.window.panes) == (2000, 500, 8)
    assert settings.models == []


def test_a_toml_file_sets_values(tmp_path: Path) -> None:
    settings = load_settings(_toml(tmp_path, CONFIG))
    assert settings.models == ["fraud-scorer"]
    assert (settings.window.size, settings.window.hop, settings.window.panes) == (1000, 250, 4)
    assert settings.drift.null_z == 3.0
    assert settings.policy == MonitorSettings().policy  # untouched sections keep defaults


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRIFTLINE_WINDOW__SIZE", "5000")
    monkeypatch.setenv("DRIFTLINE_MODELS", '["a", "b"]')
    settings = load_settings(_toml(tmp_path, CONFIG))
    assert settings.window.size == 5000
    assert settings.window.hop == 250  # the file's, for what the environment leaves alone
    assert settings.models == ["a", "b"]
    assert settings.drift.null_z == 3.0


def test_environment_without_a_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRIFTLINE_POLICY__FIRE_AFTER", "5")
    assert load_settings(None).policy.fire_after == 5


@pytest.mark.parametrize(
    ("text", "setting"),
    [
        ("[policy]\nfire_after = 0\n", "policy.fire_after"),
        ('[window]\nkind = "sliding"\n', "window.kind"),
        ("[reference]\nbins = 1\n", "reference.bins"),
        ('[drift]\nnumeric_tests = ["psi", "energy"]\n', "drift.numeric_tests"),
        ("[windw]\nsize = 3\n", "windw"),
        ("[window]\nsize = 1000\nhop = 300\n", "window.hop"),
        ("[performance]\nwindow = 100\nhop = 200\n", "performance.hop"),
        # per-feature settings: the model, the feature and the key
        (
            '[features."fraud-scorer".amount]\ntreshold = 1\n',
            "features.fraud-scorer.amount.treshold",
        ),
        (
            '[features."fraud-scorer".amount]\ntests = ["energy"]\n',
            "features.fraud-scorer.amount.tests",
        ),
        ('[features."fraud-scorer".amount]\nbins = 1\n', "features.fraud-scorer.amount.bins"),
        ('[features."fraud-scorer".amount]\nbins = 5000\n', "features.fraud-scorer.amount.bins"),
        (
            '[features."fraud-scorer".amount]\nseverity = "loud"\n',
            "features.fraud-scorer.amount.severity",
        ),
        (
            '[features."fraud-scorer".amount]\nignore = "maybe"\n',
            "features.fraud-scorer.amount.ignore",
        ),
        (
            '[features."fraud-scorer".amount]\nthresholds = { kss = 0.1 }\n',
            "features.fraud-scorer.amount.thresholds.kss",
        ),
        ('[features."*"]\namount = 3\n', "features.*.amount"),
        (
            "[drift]\nthresholds = { psi = 0.2, wasserstein = 0.1, jensen_shannon = 0.07 }\n"
            '[features.churn.age]\ntests = ["ks", "psi"]\n',
            "features.churn.age.tests: no threshold for ['ks']",
        ),
        (
            'models = ["fraud-scorer"]\n[features.fraud-scorr.amount]\nbins = 10\n',
            "features.fraud-scorr: not a declared model",
        ),
    ],
)
def test_invalid_file_values_name_the_setting_and_the_file(
    tmp_path: Path, text: str, setting: str
) -> None:
    path = _toml(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert setting in str(caught.value)
    assert str(path) in str(caught.value)
    assert isinstance(caught.value, DriftlineError)


@pytest.mark.parametrize(
    ("variable", "value", "setting"),
    [
        ("DRIFTLINE_WINDOW__SIZE", "lots", "window.size"),
        ("DRIFTLINE_WINDOW__SIZE", "-5", "window.size"),
        ("DRIFTLINE_POLICY__RESOLVE_AFTER", "0", "policy.resolve_after"),
        ("DRIFTLINE_WINDOW__HOP", "300", "window.hop"),
    ],
)
def test_invalid_environment_values_name_the_setting_and_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, setting: str
) -> None:
    monkeypatch.setenv(variable, value)
    for config in (None, _toml(tmp_path, CONFIG)):
        with pytest.raises(ConfigError) as caught:
            load_settings(config)
        assert setting in str(caught.value)
        assert variable in str(caught.value)


def test_missing_file_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(_toml(tmp_path, "[window\n"))


@pytest.mark.parametrize(
    ("size", "hop", "pane", "panes"),
    [
        (2000, 500, None, 8),  # panes of 250 events by default
        (1000, 1000, 250, 4),
        (900, 300, None, 3),  # 250 does not divide 300: panes of a hop
        (900, 300, 100, 9),
        (10, 1, None, 10),
    ],
)
def test_hop_dividing_size(size: int, hop: int, pane: int | None, panes: int) -> None:
    settings = WindowSettings(size=size, hop=hop, pane=pane)
    assert settings.panes == panes
    assert settings.panes_per_hop * settings.pane_length == hop


@pytest.mark.parametrize(("hop", "pane"), [(500, 300), (300, 250)])
def test_pane_must_divide_hop(hop: int, pane: int) -> None:
    with pytest.raises(ValidationError, match=r"window\.pane"):
        WindowSettings(size=hop * 2, hop=hop, pane=pane)


@pytest.mark.parametrize(("size", "hop"), [(1000, 300), (1000, 2000), (1000, 0), (0, 100)])
def test_hop_must_divide_size(size: int, hop: int) -> None:
    with pytest.raises(ValidationError):
        WindowSettings(size=size, hop=hop)


def test_time_windows_may_use_fractions_count_windows_may_not() -> None:
    assert WindowSettings(kind="time", size=1.5, hop=0.5).panes == 3
    assert WindowSettings(kind="time", size=1.0, hop=0.1).panes == 10
    with pytest.raises(ValidationError, match="whole numbers"):
        WindowSettings(kind="count", size=1.5, hop=0.5)


def test_drift_settings_are_checked() -> None:
    with pytest.raises(ValidationError, match="no value for"):
        DriftSettings(numeric_tests=["ks"], thresholds={"psi": 0.2})
    with pytest.raises(ValidationError, match="wasserstein needs numbers"):
        DriftSettings(categorical_tests=["wasserstein"])
    with pytest.raises(ValidationError, match="must divide"):
        PerformanceSettings(window=100, hop=200)


def test_settings_are_frozen() -> None:
    settings = MonitorSettings()
    with pytest.raises(ValidationError):
        settings.models = ["x"]  # type: ignore[misc]
    with pytest.raises(ValidationError):
        settings.window.size = 5  # type: ignore[misc]
