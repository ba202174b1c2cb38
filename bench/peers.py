"""Drift computation side by side with the peers: ``python -m bench peers [...]``.

Run from the repository root::

    python -m bench peers                        # 50,000 + 50,000 rows, 5 runs each
    python -m bench peers --only driftline,numpy --runs 3
    python -m bench peers --no-install           # skip peers whose venv is missing

One seeded data set (:func:`generate`: reference and current rows, 20 normal numeric
features with a mean shift of half a standard deviation in 5 of them in the current
set, 5 categorical features of 10 string categories, unchanged) is written once under
``bench/out/data/`` as ``.npz`` arrays and a ``meta.json``, which every tool reads
without driftline. Then each measurement runs in a process of its own, started by
:mod:`bench.launch` so that its peak RSS is its own, with a script of
``bench/peer_scripts/`` (see :mod:`harness` there) that times only the drift computation:

- driftline (the project's Python): reference profile, then window statistics + drift
  tests, from columns (``DriftCheck``: arrays, as the peers get DataFrames), the same
  from row dicts (as events carry them), and the window from JSON lines through
  ``Monitor.process_predictions``;
- Evidently 0.7 (``Report([DataDriftPreset()]).run``) and NannyML 0.13
  (``UnivariateDriftCalculator`` fit + calculate), each in a virtual environment of its
  own under ``bench/out/venvs/``, created on the first run and reused while its stamp
  (requirements and ``pip freeze``) holds. A peer that fails to install or to run is
  reported in the table with the last line of its error;
- river's ADWIN and PageHinkley, one detector per numeric feature over the reference
  then the current values (updates/s);
- plain numpy: quantile bins, ``searchsorted`` + ``bincount`` histograms and PSI, the limit.

Runs go round-robin over the measurements; each process makes ``--calls`` calls (default
2) on inputs prepared once, and the table shows medians over runs of the last call, the
first call beside it. The markdown goes to ``bench/RESULTS.md`` between the markers
``<!-- peers:start -->`` and ``<!-- peers:end -->`` (the rest of the file is kept) and
to ``bench/out/peers.md``; every sample to ``bench/out/peers.json``.
"""

import argparse
import json
import os
import platform
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench import launch as launcher
from bench.cli import add_tree_option, log
from bench.machine import cpu_model, machine_counters, machine_shares, machine_text
from bench.replay import code_version, source_digest
from bench.results import RESULTS, record, splice
from bench.stream import OUT, ROOT, clean_env, relative

__all__ = [
    "Measurement",
    "Result",
    "Sample",
    "generate",
    "main",
    "ratio_text",
    "seconds_text",
    "splice",
    "verdict",
]

ROWS = 50_000
RUNS = 5
CALLS = 2
NUMERIC = 20
CATEGORICAL = 5
CATEGORIES = 10
SHIFTED = 5
SHIFT = 0.5
"""Mean shift of the shifted features, in standard deviations."""
DATA_VERSION = 1
"""Part of the cache folder's name: bump it when :func:`generate` changes."""
TIMEOUT = 900.0
"""Seconds a measurement process may run before it is killed (and reported failed)."""
INSTALL_TIMEOUT = 1800.0

SCRIPTS = Path(__file__).with_name("peer_scripts")
VENVS = OUT / "venvs"
START, END = "<!-- peers:start -->", "<!-- peers:end -->"
HEADING = "## Drift computation: driftline and its peers"

VENV_REQUIREMENTS: dict[str, list[str]] = {
    # evidently 0.7.23 imports pandas.core.dtypes.common.infer_dtype_from_object, which
    # pandas 3 removed, but does not bound pandas: without the pin, `import evidently` fails.
    "evidently": ["evidently>=0.7,<0.8", "pandas<3"],
    # nannyml 0.13.1 imports statsmodels (nannyml/plots/components/joy_plot.py) without
    # declaring it: without it, `import nannyml` fails.
    "nannyml": ["nannyml>=0.13,<0.14", "statsmodels"],
}
STAMP = "bench-stamp.json"
PEER_ENV = {"NML_DISABLE_USAGE_LOGGING": "1", "DO_NOT_TRACK": "1"}
"""No usage analytics from the peers (NannyML posts them from fit and calculate)."""
TOOLS = ("driftline", "evidently", "nannyml", "river", "numpy")


@dataclass(frozen=True)
class Measurement:
    """One process to run: which script, with which Python (``venv``: a peer's own)."""

    key: str
    tool: str
    label: str
    script: str
    args: tuple[str, ...] = ()
    venv: str | None = None


MEASUREMENTS = (
    Measurement("driftline", "driftline", "driftline", "driftline_drift.py", ("--mode", "columns")),
    Measurement(
        "driftline-rows", "driftline", "driftline", "driftline_drift.py", ("--mode", "rows")
    ),
    Measurement(
        "driftline-wire", "driftline", "driftline", "driftline_drift.py", ("--mode", "wire")
    ),
    Measurement("numpy", "numpy", "numpy baseline", "numpy_baseline.py"),
    Measurement("river-adwin", "river", "river ADWIN", "river_drift.py", ("--detector", "adwin")),
    Measurement(
        "river-ph", "river", "river PageHinkley", "river_drift.py", ("--detector", "page_hinkley")
    ),
    Measurement("nannyml", "nannyml", "NannyML", "nannyml_drift.py", venv="nannyml"),
    Measurement("evidently", "evidently", "Evidently", "evidently_drift.py", venv="evidently"),
)


@dataclass
class Sample:
    """One process: its wall time, peak RSS and what its script printed."""

    wall: float
    rss_mib: float | None
    output: dict[str, Any]
    machine: dict[str, float] | None = None

    def seconds(self, part: str, call: int = -1) -> float:
        """Seconds of a part (or ``total``) in one call (default: the last)."""
        timed = self.output["calls"][call]
        return float(timed["total"] if part == "total" else timed["parts"][part])


@dataclass
class Result:
    """A measurement, its samples, or why it has none."""

    measurement: Measurement
    samples: list[Sample] = field(default_factory=list)
    error: str | None = None

    def median(self, part: str, call: int = -1) -> float:
        """Median over runs of a part's seconds."""
        return statistics.median(s.seconds(part, call) for s in self.samples)

    @property
    def rss_mib(self) -> float | None:
        """Largest peak RSS over runs."""
        return launcher.largest_peak([s.rss_mib for s in self.samples])

    @property
    def growth_mib(self) -> float | None:
        """Largest rise over runs from the RSS before the first call to the peak."""
        rises = [
            max(0.0, s.rss_mib - s.output["rss_before_mib"])
            for s in self.samples
            if s.rss_mib is not None
        ]
        return max(rises) if rises else None


# --- pure helpers ------------------------------------------------------------------------


def seconds_text(seconds: float) -> str:
    """Seconds to three significant digits.

    >>> seconds_text(7.1234), seconds_text(0.004567), seconds_text(1234.5)
    ('7.12', '0.00457', '1234')
    """
    return f"{seconds:.3g}" if seconds < 1000 else f"{seconds:.0f}"


def ratio_text(seconds: float, driftline: float | None) -> str:
    """``seconds`` over driftline's seconds for the same work, as ``12x`` or ``0.05x``.

    >>> ratio_text(30.0, 2.0), ratio_text(3.0, 2.0), ratio_text(0.1, 2.0), ratio_text(1.0, None)
    ('15x', '1.5x', '0.05x', '-')
    """
    if driftline is None or driftline <= 0:
        return "-"
    ratio = seconds / driftline
    if ratio >= 10:
        return f"{ratio:.0f}x"
    if ratio >= 1:
        return f"{ratio:.1f}x"
    return f"{ratio:.2g}x"


def verdict(output: dict[str, Any], shifted: list[str], features: int) -> str:
    """``found/shifted, false k``: shifted features found, features flagged wrongly.

    False: flagged but not shifted, or named in the script's ``false_alarms``. When the
    tool tested fewer than all ``features``, says how many it tested.

    >>> verdict({"tested": ["a", "b", "c"], "flagged": ["a", "c"], "false_alarms": []}, ["a"], 3)
    '1/1, false 1'
    >>> verdict({"tested": ["a", "b"], "flagged": ["a"], "false_alarms": ["b"]}, ["a"], 3)
    '1/1, false 1 (2 tested)'
    """
    tested, flagged, expected = set(output["tested"]), set(output["flagged"]), set(shifted)
    false = len((flagged - expected) | set(output["false_alarms"]))
    text = f"{len(flagged & expected)}/{len(tested & expected)}, false {false}"
    return text if len(tested) == features else f"{text} ({len(tested)} tested)"


# --- the data set ------------------------------------------------------------------------


def generate(
    rows: int, seed: int
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, Any]]:
    """Reference and current arrays (``numeric``, ``categorical``) and their description.

    Numeric features are normal, each with its own mean and standard deviation; every
    fourth one (``num_00``, ``num_04``, ...) has its mean moved by ``SHIFT`` standard
    deviations in the current set. Categorical features draw from 10 string categories
    with shares of their own, the same in both sets.

    >>> reference, current, meta = generate(1000, seed=0)
    >>> reference["numeric"].shape, current["categorical"].shape, meta["shifted"][:2]
    ((1000, 20), (1000, 5), ['num_00', 'num_04'])
    """
    rng = np.random.default_rng(seed)
    numeric = [f"num_{j:02d}" for j in range(NUMERIC)]
    categorical = [f"cat_{j}" for j in range(CATEGORICAL)]
    shifted = list(range(0, NUMERIC, NUMERIC // SHIFTED))[:SHIFTED]
    means = rng.uniform(-5.0, 5.0, NUMERIC)
    stds = rng.uniform(0.5, 3.0, NUMERIC)
    moved = means.copy()
    moved[shifted] += SHIFT * stds[shifted]
    categories = np.array([f"c{k}" for k in range(CATEGORIES)])
    shares = rng.dirichlet(np.full(CATEGORIES, 2.0), size=CATEGORICAL)

    def draw(centres: np.ndarray) -> dict[str, np.ndarray]:
        values = centres + stds * rng.standard_normal((rows, NUMERIC))
        drawn = [categories[rng.choice(CATEGORIES, size=rows, p=p)] for p in shares]
        return {"numeric": values, "categorical": np.stack(drawn, axis=1)}

    meta = {
        "rows": rows,
        "seed": seed,
        "numeric": numeric,
        "categorical": categorical,
        "shifted": [numeric[j] for j in shifted],
        "shift_std": SHIFT,
        "means": means.round(4).tolist(),
        "stds": stds.round(4).tolist(),
        "category_shares": shares.round(4).tolist(),
        "version": DATA_VERSION,
    }
    return draw(means), draw(moved), meta


def prepare_data(rows: int, seed: int, fresh: bool, log: Callable[[str], None]) -> Path:
    """The data set's folder under ``bench/out/data/``, generated unless cached."""
    folder = OUT / "data" / f"peers-v{DATA_VERSION}-seed{seed}-n{rows}"
    if (folder / "meta.json").is_file() and not fresh:
        return folder
    log(f"generating {rows:,} + {rows:,} rows in {relative(folder)}")
    folder.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".peers-"))
    reference, current, meta = generate(rows, seed)
    for name, arrays in (("reference", reference), ("current", current)):
        np.savez(
            scratch / f"{name}.npz", numeric=arrays["numeric"], categorical=arrays["categorical"]
        )
    (scratch / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    scratch.chmod(0o755)  # mkdtemp makes it private
    shutil.rmtree(folder, ignore_errors=True)
    scratch.rename(folder)
    return folder


# --- the peers' virtual environments -----------------------------------------------------


def peer_env() -> dict[str, str]:
    """This environment without ``PYTHONPATH`` and ``DRIFTLINE_*``, analytics off."""
    env = {
        k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("DRIFTLINE_")
    }
    return env | PEER_ENV


def last_line(text: str) -> str:
    """The last non-blank line of an error output.

    >>> last_line("Traceback...\\nImportError: no\\n\\n")
    'ImportError: no'
    """
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


def ensure_venv(
    name: str, install: bool, log: Callable[[str], None]
) -> tuple[Path | None, str | None]:
    """The Python of a peer's venv, created if need be; or None and why not.

    A venv is reused while its stamp names the same requirements. With ``install``
    false, an existing stamped venv is used as it is, and a missing one is skipped.
    """
    requirements = VENV_REQUIREMENTS[name]
    folder = VENVS / name
    python = folder / "bin" / "python"
    stamp = folder / STAMP
    saved: dict[str, Any] = {}
    if python.is_file() and stamp.is_file():
        try:
            saved = json.loads(stamp.read_text())
        except ValueError:
            saved = {}
    if saved and (saved.get("requirements") == requirements or not install):
        return python, None
    if not install:
        return None, f"skipped: no venv in {relative(folder)} (--no-install)"
    VENVS.mkdir(parents=True, exist_ok=True)
    journal = VENVS / f"{name}.log"
    log(f"creating {relative(folder)}: pip install {' '.join(requirements)}")
    log(f"(log: {relative(journal)})")
    shutil.rmtree(folder, ignore_errors=True)
    steps = [
        [sys.executable, "-m", "venv", str(folder)],
        [str(python), "-m", "pip", "install", "--disable-pip-version-check", *requirements],
        [str(python), "-c", f"import {name}"],
    ]
    started = time.perf_counter()
    with journal.open("w") as out:
        for step in steps:
            out.write(f"$ {shlex.join(step)}\n")
            out.flush()
            try:
                done = subprocess.run(
                    step,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=peer_env(),
                    timeout=INSTALL_TIMEOUT,
                )
            except (OSError, subprocess.TimeoutExpired) as error:
                return None, f"install failed: {error}"
            if done.returncode != 0:
                out.flush()
                return None, f"install failed: {last_line(journal.read_text())}"
    freeze = subprocess.run(
        [str(python), "-m", "pip", "freeze", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        env=peer_env(),
        check=False,
    ).stdout.split()
    stamp.write_text(
        json.dumps(
            {
                "requirements": requirements,
                "python": platform.python_version(),
                "created": datetime.now(UTC).isoformat(timespec="seconds"),
                "freeze": freeze,
            },
            indent=1,
        )
        + "\n"
    )
    log(f"{name} installed in {time.perf_counter() - started:.0f} s")
    return python, None


# --- running -----------------------------------------------------------------------------


def command(measurement: Measurement, python: Path, data: Path, calls: int) -> list[str]:
    """The script's command line."""
    script = SCRIPTS / measurement.script
    return [str(python), str(script), str(data), "--calls", str(calls), *measurement.args]


def launch(argv: list[str], env: dict[str, str]) -> tuple[float, float | None, int, str, str]:
    """Run ``argv`` under :mod:`bench.launch`: wall seconds, peak RSS (MiB), exit code,
    stdout and stderr. Killed, with its children, after ``TIMEOUT`` seconds."""
    with tempfile.TemporaryDirectory() as scratch:
        result = Path(scratch) / "result"
        started = time.perf_counter()
        process = subprocess.Popen(
            launcher.command(str(result), argv) if hasattr(os, "wait4") else argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=ROOT,
            start_new_session=True,
        )
        try:
            stdout, stderr = process.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate()
            return TIMEOUT, None, -9, "", f"killed after {TIMEOUT:.0f} s"
        wall, rss, code = time.perf_counter() - started, None, process.returncode
        if result.is_file():
            wall, rss, code = launcher.read_result(str(result))
    return wall, rss, code, stdout.decode(), stderr.decode()


def sample(argv: list[str], env: dict[str, str]) -> Sample | str:
    """One run of a measurement, or its error's last line."""
    before = machine_counters()
    wall, rss, code, stdout, stderr = launch(argv, env)
    shares = machine_shares(before, machine_counters(), wall)
    if code != 0:
        return f"exit {code}: {last_line(stderr)}"
    try:
        output = json.loads(last_line(stdout))
    except ValueError:
        return f"unexpected output: {last_line(stdout or stderr)}"
    return Sample(wall, rss, output, shares)


# --- the table ---------------------------------------------------------------------------

Part = tuple[str, ...]
"""Parts of a call summed into one table row (``("total",)``: the whole call)."""
WIRE: Part = ("decode", "monitor")
WINDOW: Part = ("statistics", "tests")
"""driftline's window: the current set's statistics, then the drift tests."""
BASE: dict[str, Part] = {"reference": ("reference",), "window": WINDOW, "total": ("total",)}
"""driftline's parts that a peer's row is compared with."""

ROWS_OF: dict[str, list[tuple[Part, str, str | None]]] = {
    "driftline": [
        (
            ("reference",),
            "from columns: reference profile, `DriftCheck(reference)` ({rows} rows)",
            "reference",
        ),
        (
            WINDOW,
            "window: `DriftCheck.summarize(current)` + `.findings` (tests {tests} s)",
            "window",
        ),
        (("total",), "total", "total"),
    ],
    "driftline-rows": [
        (
            ("reference",),
            "from row dicts: reference profile, `ProfileBuilder.add` x {rows}, `build()`",
            "reference",
        ),
        (
            WINDOW,
            "window: `ColumnSummary.update_rows` ({rows} rows) + `drift_findings` "
            "(tests {tests} s)",
            "window",
        ),
        (("total",), "total", "total"),
    ],
    "driftline-wire": [
        (
            WIRE,
            "window from JSON lines: `decode_prediction_lines` + "
            "`Monitor.process_predictions` (decode {decode} s)",
            "window",
        ),
    ],
    "numpy": [
        (
            ("reference",),
            "reference: `np.quantile` edges, histograms, `np.unique` counts",
            "reference",
        ),
        (("window",), "window: histograms, counts, PSI", "window"),
        (("total",), "total", "total"),
    ],
    "river-adwin": [(("updates",), "`ADWIN().update` x {updates} (20 features)", None)],
    "river-ph": [(("updates",), "`PageHinkley().update` x {updates} (20 features)", None)],
    "nannyml": [
        (("fit",), "`UnivariateDriftCalculator.fit` (reference)", "reference"),
        (("calculate",), "`calculate` (current, one chunk)", "window"),
        (("total",), "total", "total"),
    ],
    "evidently": [
        (("report",), "`Report([DataDriftPreset()]).run(current, reference)`", "total"),
        (("report",), "the same, per window: vs driftline's window part", "window"),
    ],
}
"""Table rows of each measurement: parts, what was timed, driftline's part to compare with."""


def part_seconds(result: Result, part: Part, call: int = -1) -> float:
    """Median over runs of the parts' summed seconds."""
    return statistics.median(sum(s.seconds(p, call) for p in part) for s in result.samples)


def table(results: list[Result], meta: dict[str, Any]) -> str:
    """The markdown table: one or more rows per measurement."""
    base = next((r for r in results if r.measurement.key == "driftline" and r.samples), None)
    features = len(meta["numeric"]) + len(meta["categorical"])
    lines = [
        "| tool | work timed | median s | 1st call s | vs driftline | drifting found "
        "| peak RSS MiB (+ in calls) |",
        "|---|---|---:|---:|---:|---|---:|",
    ]
    for result in results:
        m = result.measurement
        specs = ROWS_OF[m.key]
        if not result.samples:
            lines.append(f"| {m.label} | `{m.script}` | {result.error} | | | | |")
            continue
        info = result.samples[-1].output["info"]
        for index, (part, work, compare) in enumerate(specs):
            seconds = part_seconds(result, part)
            if compare is None:
                ratio = f"{info['updates'] / seconds / 1e6:.1f}M updates/s"
            else:
                ratio = ratio_text(seconds, part_seconds(base, BASE[compare]) if base else None)
            text = work.format(
                rows=f"{meta['rows']:,}",
                updates=f"{info.get('updates', 0):,}",
                decode=seconds_text(result.median("decode")) if "decode" in part else "",
                tests=seconds_text(result.median("tests")) if "tests" in part else "",
            )
            found = rss = ""
            if index == len(specs) - 1:
                output = result.samples[-1].output
                found = verdict(output, meta["shifted"], features)
                if not all(s.output["same_flags_every_call"] for s in result.samples) or any(
                    s.output["flagged"] != output["flagged"] for s in result.samples
                ):
                    found += " (varies)"
                if result.rss_mib is not None:
                    rss = f"{result.rss_mib:.0f} (+{result.growth_mib:.0f})"
            label = m.label if index == 0 else ""
            cells = [label, text, seconds_text(seconds)]
            cells += [seconds_text(part_seconds(result, part, call=0)), ratio, found, rss]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def versions_text(results: list[Result]) -> str:
    """Versions of every tool measured (and the numpy / pandas each ran with)."""
    parts = []
    for result in results:
        if not result.samples or result.measurement.key in (
            "driftline-rows",
            "driftline-wire",
            "river-ph",
        ):
            continue
        output = result.samples[-1].output
        versions = {k: v for k, v in output["versions"].items() if v}
        tool = result.measurement.tool
        main = versions.pop(tool, None)
        name = {"river": "river", "numpy": "numpy"}.get(tool, result.measurement.label)
        extra = ", ".join(f"{k} {v}" for k, v in versions.items())
        parts.append(f"{name} {main}" + (f" ({extra})" if extra else ""))
    return "; ".join(parts)


def notes(results: list[Result], meta: dict[str, Any], runs: int, calls: int) -> list[str]:
    """How to read the table."""
    rows = f"{meta['rows']:,}"
    out = [
        f"- Timed inside each process with `time.perf_counter` around the drift computation "
        f"only: interpreter start, imports, loading the arrays and building the inputs "
        f"(DataFrames, row dicts, lists of floats) are not timed. Each process makes "
        f"{_plural(calls, 'call')} on the same inputs with fresh objects; **median s** is "
        f"the median over {_plural(runs, 'run')} (processes) of the last call, **1st call s** "
        "of the first (lazy imports and first-use costs land there).",
        "- **vs driftline**: this row's seconds / driftline's (from columns) for the same "
        "work: a total against driftline's total (reference profile + window), a fit / "
        "reference part against driftline's reference profile, a calculate / window part "
        "against driftline's window. Above 1x the peer is slower. Evidently profiles the "
        "reference in every report; its second row compares that report with driftline's "
        "window alone, as the monitor profiles the reference once and tests every window "
        "against it (NannyML's calculate row likewise). river: values fed per second.",
        f"- **drifting found**: shifted features flagged / shifted ({meta['shift_std']} std "
        f"mean shift in {', '.join(meta['shifted'])}); false: other features flagged. river "
        "(numeric features only): found = an alarm after the shift, false = any alarm on an "
        "unshifted feature or before the shift.",
        "- **peak RSS**: largest over runs of the process's `ru_maxrss` (from `os.wait4`, by "
        "`bench/launch.py`), with imports, data and inputs; in brackets its rise over the "
        "resident memory just before the first call.",
        "- Tests and thresholds: driftline's defaults (numeric: Wasserstein 0.1 of the "
        "reference std + PSI 0.2; categorical: Jensen-Shannon 0.07 + PSI 0.2; each raised "
        "to its chance level, drawn in the call); Evidently's preset defaults (normed "
        "Wasserstein 0.1, Jensen-Shannon 0.1 above 1,000 rows); NannyML Jensen-Shannon + "
        "Kolmogorov-Smirnov (numeric) and Jensen-Shannon + chi-square (categorical), "
        "constant thresholds 0.1 as its default ones need several reference chunks; numpy: "
        "PSI >= 0.2 on 20 quantile bins; river: default parameters.",
        "- driftline's inputs: **from columns**, one array per feature (float64 numbers, "
        "Python strings as object arrays), as the peers get DataFrames; **from row dicts**, "
        f"{rows} `{{feature: value}}` dicts, as events carry them: its window statistics "
        "then include gathering the rows into columns. The wire row decodes "
        f"{rows} JSON lines of prediction events and runs them "
        "through `Monitor.process_predictions` with one count window of all of them (adds "
        "quality and multivariate tests, alert policy, feature stats).",
    ]
    found = {r.measurement.key: r for r in results if r.samples}
    values = meta["rows"] * (len(meta["numeric"]) + len(meta["categorical"]))
    rates = [
        f"{how} {values / part_seconds(found[key], WINDOW) / 1e6:.1f}M"
        for key, how in (("driftline", "from columns"), ("driftline-rows", "from row dicts"))
        if key in found
    ]
    if rates:
        wire = found.get("driftline-wire")
        rate = "" if wire is None else f"{meta['rows'] / part_seconds(wire, WIRE):,.0f}"
        out.append(
            f"- driftline's window part handles {', '.join(rates)} feature values/s "
            f"({rows} rows x {values // meta['rows']} features)"
            + (f"; from JSON lines {rate} events/s." if rate else ".")
        )
    return out


# --- main --------------------------------------------------------------------------------


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _tools(text: str) -> list[str]:
    tools = [t.strip() for t in text.split(",") if t.strip()]
    unknown = sorted(set(tools) - set(TOOLS))
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown tool {', '.join(unknown)}; known: {', '.join(TOOLS)}"
        )
    return tools


def run_all(
    results: list[Result],
    python: dict[str, Path],
    data: Path,
    runs: int,
    calls: int,
    tree: Path | None = None,
) -> None:
    """Every run of every measurement, round-robin; a failing one stops running."""
    for run in range(runs):
        for result in results:
            m = result.measurement
            if result.error is not None:
                continue
            env = peer_env() if m.venv else clean_env(tree) | PEER_ENV
            argv = command(m, python[m.venv or ""], data, calls)
            got = sample(argv, env)
            if isinstance(got, str):
                result.error = f"failed: {got}"
                log(f"run {run + 1}/{runs}: {m.key} {result.error}")
                continue
            result.samples.append(got)
            timed = ", ".join(f"{k} {v:.3f}" for k, v in got.output["calls"][-1]["parts"].items())
            log(f"run {run + 1}/{runs}: {m.key}: {timed} s; wall {got.wall:.1f} s")


def main(argv: list[str]) -> int:
    """Generate (or reuse) the data set and the peers' venvs, run, write the table."""
    parser = argparse.ArgumentParser(
        prog="python -m bench peers",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--runs", type=int, default=RUNS, help="processes per measurement")
    parser.add_argument("--calls", type=int, default=CALLS, help="timed calls per process")
    parser.add_argument("--rows", type=int, default=ROWS, help="rows of each set")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data set")
    parser.add_argument(
        "--only",
        type=_tools,
        default=list(TOOLS),
        help=f"comma-separated subset of {','.join(TOOLS)}",
    )
    parser.add_argument(
        "--no-install", action="store_true", help="skip peers whose venv is missing"
    )
    parser.add_argument("--fresh", action="store_true", help="regenerate the cached data set")
    parser.add_argument(
        "--commit",
        help="measure driftline as committed at this revision (exported with git archive to "
        "a temporary folder), e.g. HEAD while the working tree is being edited",
    )
    add_tree_option(parser)
    args = parser.parse_args(argv)
    if args.runs < 1 or args.calls < 1 or args.rows < 100:
        parser.error("--runs and --calls must be at least 1, --rows at least 100")
    if args.commit and args.tree:
        parser.error("--commit and --tree exclude each other")
    with tempfile.TemporaryDirectory(prefix="driftline-") as scratch:
        label = None
        if args.commit:
            args.tree, label = export(args.commit, Path(scratch)), f"code: commit {args.commit}"
        return _run(args, argv, label)


def export(revision: str, folder: Path) -> Path:
    """``git archive REVISION`` extracted into ``folder``; the commit's short hash in its
    name, for the caption."""
    git = ["git", "-C", str(ROOT)]
    short = subprocess.run(
        [*git, "rev-parse", "--short", f"{revision}^{{commit}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    tree = folder / short
    tree.mkdir()
    archive = subprocess.run([*git, "archive", short], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


def _run(args: argparse.Namespace, argv: list[str], label: str | None) -> int:
    """Everything after the arguments: data, venvs, runs, the table and its files."""
    started, load = time.perf_counter(), os.getloadavg()
    counters, digest = machine_counters(), source_digest(args.tree)

    data = prepare_data(args.rows, args.seed, args.fresh, log)
    meta = json.loads((data / "meta.json").read_text())
    selected = [m for m in MEASUREMENTS if m.tool in args.only]
    python: dict[str, Path] = {"": Path(sys.executable)}
    errors: dict[str, str] = {}
    for name in sorted({m.venv for m in selected if m.venv}):
        found, error = ensure_venv(name, not args.no_install, log)
        if found is not None:
            python[name] = found
        else:
            errors[name] = error or "no venv"
            log(f"{name}: {errors[name]}")
    results = [Result(m, error=errors.get(m.venv or "")) for m in selected]
    run_all(results, python, data, args.runs, args.calls, args.tree)

    command_text = shlex.join(["python", "-m", "bench", "peers", *argv])
    shares = machine_shares(counters, machine_counters(), time.perf_counter() - started)
    changed = source_digest(args.tree) != digest
    waiting = [s.machine["waiting"] for r in results for s in r.samples if s.machine]
    caption = (
        f"`{command_text}`: {meta['rows']:,} reference + {meta['rows']:,} current rows, "
        f"{len(meta['numeric'])} numeric features ({len(meta['shifted'])} with a "
        f"{meta['shift_std']} std mean shift) + {len(meta['categorical'])} categorical "
        f"(10 string categories), seed {meta['seed']}; {_plural(args.runs, 'run')}, "
        f"{_plural(args.calls, 'call')} per process. {os.cpu_count()} cores, {cpu_model()}, "
        f"{platform.system()}; "
        f"Python {platform.python_version()}. {versions_text(results)}. "
        f"driftline {_code(args.tree, label)}. {datetime.now(UTC):%Y-%m-%d}."
    )
    lines = notes(results, meta, args.runs, args.calls)
    lines.append(
        f"- Load average before → after: {load[0]:.2f} → {os.getloadavg()[0]:.2f}; "
        f"{machine_text(shares)}"
        + (f" (worst run: {max(waiting):.0%} waiting)" if waiting else "")
        + f"; whole benchmark {time.perf_counter() - started:.0f} s."
    )
    if changed:
        lines.append(
            "- **Warning: driftline's sources changed during the run; results mix versions.**"
        )
        log("warning: driftline sources changed during the run")
    section = "\n".join([HEADING, "", caption, "", table(results, meta), "", *lines, ""])
    print(section)
    record("peers", section)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "peers.md").write_text(section)
    raw = {
        "command": command_text,
        "data": meta,
        "venvs": {name: _stamp(name) for name in VENV_REQUIREMENTS},
        "measurements": [
            {
                "measurement": asdict(r.measurement),
                "command": command(
                    r.measurement, python.get(r.measurement.venv or "", Path("?")), data, args.calls
                ),
                "error": r.error,
                "samples": [asdict(s) for s in r.samples],
            }
            for r in results
        ],
    }
    (OUT / "peers.json").write_text(json.dumps(raw, indent=1) + "\n")
    log(f"wrote {relative(RESULTS)}, {relative(OUT)}/peers.md and peers.json")
    return 0


def _code(tree: Path | None, label: str | None) -> str:
    if label is not None and tree is not None:
        return f"{label} ({tree.name})"
    return code_version(tree)


def _stamp(name: str) -> dict[str, Any] | None:
    stamp = VENVS / name / STAMP
    try:
        saved: dict[str, Any] = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return None
    return saved
