"""Replay benchmark: how fast ``driftline replay`` runs, and how much memory it needs.

Run from the repository root::

    python -m bench replay                      # 200,000 events, 3 runs, scales 1 and 10
    python -m bench replay --scale 1 --runs 5   # quicker, no 10x stream

Measured on the stream of :mod:`bench.stream` (4 models, 25 features, labels), each
measurement in a process of its own, so its peak RSS is its own:

- ``json.loads`` and ``msgspec.json.decode`` (untyped) of every line: parsing alone;
- the hot path: :func:`monitor.engine.replay.replay` on an ``EmbeddedEngine``, in
  process, timed without interpreter start, imports and reference loading;
- ``driftline replay events.jsonl --reference ref.json [--labels labels.jsonl]
  --alerts /dev/null``, timed from spawn to exit;
- at every further ``--scale`` (10x by default), the msgspec pass and the command with
  labels again (``--scaled-both``: without labels too), on a stream that many times
  longer, ``--scaled-runs`` times (default 1, to keep the default run near 3 minutes):
  memory must not grow with the stream.

Runs go round-robin over the measurements, so a busy moment of the machine does not hit
one of them only. Times are medians over runs. Peak RSS is the largest over runs of the
process's ``ru_maxrss``, read with ``os.wait4`` by the small launcher :mod:`bench.launch`
(why a launcher: see there), or sampled with psutil where there is no ``wait4``. The
markdown table is printed and written to ``bench/out/replay.md``, every sample to
``bench/out/replay.json``.
"""

import argparse
import hashlib
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench import launch
from bench import results as results_file
from bench.cli import add_tree_option, log
from bench.stream import (
    OUT,
    ROOT,
    Stream,
    build_reference,
    clean_env,
    driftline_executable,
    prepare,
)

__all__ = ["Measurement", "Result", "Sample", "main", "run_measured"]

EVENTS = 200_000
RUNS = 3
SCALES = (1, 10)
CLI_SUMMARY = re.compile(r"replayed ([\d,]+) predictions, ([\d,]+) labels")
CLI_ALERTS = re.compile(r"(\d+) alerts")
PACKAGES = ("monitor", "schemas", "producers")
"""The driftline packages whose code is measured."""


@dataclass(frozen=True)
class Measurement:
    """One row of the table: what runs, on which lines, how often."""

    name: str
    kind: str
    scale: int
    labels: bool
    command: list[str]
    runs: int

    @property
    def lines(self) -> str:
        """Which files it reads."""
        return "events + labels" if self.labels else "events"


@dataclass
class Sample:
    """One run: timed seconds, process wall time, peak RSS and what it counted."""

    seconds: float
    wall: float
    rss_mib: float | None
    events: int
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class Result:
    """A measurement and its runs."""

    measurement: Measurement
    samples: list[Sample] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        """Median timed seconds."""
        return statistics.median(s.seconds for s in self.samples)

    @property
    def events(self) -> int:
        """Events per run (the same in every run)."""
        return self.samples[0].events

    @property
    def rate(self) -> float:
        """Events per second, from the median time."""
        return self.events / self.seconds

    @property
    def rss_mib(self) -> float | None:
        """Largest peak RSS over runs."""
        return launch.largest_peak([s.rss_mib for s in self.samples])

    def info(self, key: str) -> float:
        """Median of a number every sample reported."""
        return statistics.median(float(s.info[key]) for s in self.samples)


def run_measured(
    command: list[str], tree: Path | None = None
) -> tuple[float, float | None, str, str]:
    """Run ``command`` to its end: wall seconds, peak RSS (MiB), stdout and stderr.

    ``tree``: where the command imports driftline from (see :func:`bench.stream.clean_env`).

    Where there is ``os.wait4`` the command runs under :mod:`bench.launch`, which reads
    its peak from ``wait4``; elsewhere the peak is sampled with psutil, if installed.
    """
    env = clean_env(tree)
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.TemporaryDirectory() as scratch,
    ):
        if hasattr(os, "wait4"):
            result = Path(scratch) / "result"
            launched = launch.command(str(result), command)
            subprocess.run(launched, stdout=out, stderr=err, env=env, cwd=ROOT)
            if not result.is_file():
                err.seek(0)
                raise SystemExit(f"bench: could not launch {command[0]}:\n{err.read().decode()}")
            rss: float | None
            wall, rss, code = launch.read_result(str(result))
        else:
            started = time.perf_counter()
            process = subprocess.Popen(command, stdout=out, stderr=err, env=env, cwd=ROOT)
            rss = _sampled_peak(process)
            wall, code = time.perf_counter() - started, process.returncode
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if code != 0:
        raise SystemExit(f"bench: {shlex.join(command)} exited {code}:\n{stderr}")
    return wall, rss, stdout, stderr


def _sampled_peak(process: "subprocess.Popen[bytes]") -> float | None:
    """Peak RSS sampled every 20 ms with psutil; None without psutil."""
    try:
        import psutil  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        process.wait()
        return None
    peak = 0
    watched = psutil.Process(process.pid)
    while process.poll() is None:
        try:
            peak = max(peak, watched.memory_info().rss)
        except psutil.Error:
            break
        time.sleep(0.02)
    process.wait()
    return peak / 2**20 if peak else None


def measurements(
    streams: dict[int, Stream],
    reference: Path,
    runs: int,
    scaled_runs: int,
    scaled_both: bool = False,
) -> list[Measurement]:
    """Everything to measure, in the order runs go through them."""
    python = sys.executable
    driftline = driftline_executable()
    out: list[Measurement] = []
    for scale, stream in streams.items():
        files = [str(stream.events), str(stream.labels)]
        cli = [driftline, "replay", str(stream.events), "--reference", str(reference)]
        labelled = [*cli, "--labels", str(stream.labels), "--alerts", os.devnull]
        worker = [python, "-m", "bench.workers"]
        hot = [*worker, "hot-path", str(stream.events), str(reference), str(stream.labels)]
        n = runs if scale == 1 else scaled_runs
        if scale == 1:
            out.append(
                Measurement(
                    "json.loads per line",
                    "decode",
                    scale,
                    False,
                    [*worker, "decode-json", *files],
                    n,
                )
            )
        out.append(
            Measurement(
                "msgspec.json.decode per line",
                "decode",
                scale,
                False,
                [*worker, "decode-msgspec", *files],
                n,
            )
        )
        if scale == 1:
            out.append(
                Measurement("hot path: replay() in process", "hot-path", scale, True, hot, n)
            )
        if scale == 1 or scaled_both:
            out.append(
                Measurement(
                    "driftline replay", "cli", scale, False, [*cli, "--alerts", os.devnull], n
                )
            )
        out.append(Measurement("driftline replay", "cli", scale, True, labelled, n))
    return out


def sample(measurement: Measurement, stream: Stream, tree: Path | None = None) -> Sample:
    """Run a measurement once and check that it saw the whole stream."""
    wall, rss, stdout, stderr = run_measured(measurement.command, tree)
    predictions = stream.predictions
    labels = stream.label_count if measurement.labels else 0
    if measurement.kind == "decode":
        events_file, labels_file = json.loads(stdout)["files"]
        _expect(measurement, events_file["lines"], predictions)
        info = {"labels_seconds": labels_file["seconds"], "labels_lines": labels_file["lines"]}
        return Sample(events_file["seconds"], wall, rss, events_file["lines"], info)
    if measurement.kind == "hot-path":
        result = json.loads(stdout)
        accepted = result["accepted"]
        _expect(measurement, accepted["predictions"] + accepted["labels"], predictions + labels)
        return Sample(result["seconds"], wall, rss, predictions + labels, result)
    found = CLI_SUMMARY.search(stderr)
    alerts = CLI_ALERTS.search(stderr)
    if found is None or alerts is None:
        raise SystemExit(
            f"bench: unexpected output of {shlex.join(measurement.command)}:\n{stderr}"
        )
    seen = int(found[1].replace(",", "")) + int(found[2].replace(",", ""))
    _expect(measurement, seen, predictions + labels)
    return Sample(wall, wall, rss, seen, {"alerts": int(alerts[1])})


def _expect(measurement: Measurement, seen: int, expected: int) -> None:
    if seen != expected:
        raise SystemExit(
            f"bench: {measurement.name} ({measurement.lines}, {measurement.scale}x) "
            f"saw {seen:,} events, expected {expected:,}"
        )


def baseline_seconds(results: list[Result], scale: int, labels: bool) -> float | None:
    """Median msgspec decode time of the same lines at ``scale``, if it was measured."""
    for result in results:
        m = result.measurement
        if m.kind == "decode" and m.scale == scale and m.name.startswith("msgspec"):
            per_run = [
                s.seconds + (s.info["labels_seconds"] if labels else 0.0) for s in result.samples
            ]
            return statistics.median(per_run)
    return None


def table(results: list[Result], caption: str) -> str:
    """The markdown table, caption and notes."""
    head = (
        "| scale | measurement | lines | events | median s | events/s "
        "| time vs msgspec decode | peak RSS MiB |"
    )
    rows = [caption, "", head, "|---:|---|---|---:|---:|---:|---:|---:|"]
    for result in results:
        m = result.measurement
        base = baseline_seconds(results, m.scale, m.labels)
        ratio = f"{result.seconds / base:.1f}x" if base else "-"
        rss = f"{result.rss_mib:.0f}" if result.rss_mib is not None else "n/a"
        rows.append(
            f"| {m.scale}x | {m.name} | {m.lines} | {result.events:,} | {result.seconds:.2f} "
            f"| {result.rate:,.0f} | {ratio} | {rss} |"
        )
    return "\n".join(rows)


def notes(results: list[Result], started: float, load: tuple[float, float, float]) -> str:
    """How to read the table, and where startup time goes."""
    lines = [
        "",
        "- events = predictions (+ labels); events/s = events / median s.",
        "- `driftline replay` rows: wall time of the whole process (interpreter, imports, "
        "reference load, replay, exit). Decode and hot-path rows: only the timed loop.",
        "- time vs msgspec decode: median s / median time of `msgspec.json.decode` over the "
        "same lines (events file, plus labels file where read) at the same scale.",
        "- peak RSS: largest over runs of the process's `ru_maxrss` (`os.wait4`, from the "
        "small launcher `bench/launch.py`).",
    ]
    hot = [r for r in results if r.measurement.kind == "hot-path"]
    cli = [r for r in results if r.measurement.kind == "cli" and r.measurement.labels]
    if hot:
        h = hot[0]
        line = (
            f"- startup (hot-path process, medians): imports {h.info('import_seconds'):.2f} s, "
            f"settings + reference {h.info('load_seconds') * 1000:.0f} ms"
        )
        same = [c for c in cli if c.measurement.scale == h.measurement.scale]
        if same:
            line += f"; CLI wall - hot-path replay = {same[0].seconds - h.seconds:.2f} s"
        lines.append(line + f"; alerts raised: {int(h.info('alerts'))}.")
    lines.append(
        f"- load average before → after: {load[0]:.2f} → {os.getloadavg()[0]:.2f}; "
        f"whole benchmark {time.perf_counter() - started:.0f} s."
    )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """Generate (or reuse) the streams, run every measurement, print and write the table."""
    parser = argparse.ArgumentParser(prog="python -m bench replay", description=__doc__)
    parser.add_argument("--events", type=int, default=EVENTS, help="predictions at 1x")
    parser.add_argument("--runs", type=int, default=RUNS, help="runs per measurement at 1x")
    parser.add_argument(
        "--scale", type=int, nargs="+", default=list(SCALES), help="stream lengths, x --events"
    )
    parser.add_argument(
        "--scaled-runs", type=int, default=1, help="runs per measurement at scales above 1"
    )
    parser.add_argument(
        "--scaled-both",
        action="store_true",
        help="at scales above 1, also replay without labels (about +60 s at 10x)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the stream")
    parser.add_argument("--fresh", action="store_true", help="regenerate the cached streams")
    add_tree_option(parser)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    load = os.getloadavg()
    digest = source_digest(args.tree)

    scales = sorted(set(args.scale))
    streams = {s: prepare(args.events * s, args.seed, args.fresh, log) for s in scales}
    reference = build_reference(args.seed, log, args.tree)
    planned = measurements(streams, reference, args.runs, args.scaled_runs, args.scaled_both)
    results = [Result(m) for m in planned]
    for run in range(max(r.measurement.runs for r in results)):
        for result in results:
            m = result.measurement
            if run >= m.runs:
                continue
            log(f"run {run + 1}/{m.runs}: {m.name} ({m.lines}, {m.scale}x)")
            result.samples.append(sample(m, streams[m.scale], args.tree))

    command = shlex.join(["python", "-m", "bench", "replay", *argv])
    first = streams[scales[0]]
    caption = (
        f"**Replay benchmark** — `{command}` (events={args.events:,}, runs={args.runs}, "
        f"scales={' '.join(map(str, scales))}, scaled runs={args.scaled_runs}, "
        f"seed={args.seed}): {first.predictions:,} predictions of 4 interleaved models "
        "(20 numeric + 5 categorical features) and as many labels per 1x; median of runs. "
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} cores, {platform.machine()}; {code_version(args.tree)}."
    )
    prefix = f"PYTHONPATH={args.tree} " if args.tree else ""
    cli = [r.measurement.command for r in results if r.measurement.kind == "cli"]
    commands = sorted({prefix + shlex.join(_short(command)) for command in cli})
    changed = source_digest(args.tree) != digest
    if changed:
        log("warning: driftline sources changed during the run; results mix versions")
    text = (
        table(results, caption)
        + "\n"
        + notes(results, started, load)
        + ("\n- **warning: driftline sources changed during the run.**" if changed else "")
        + "\n\nCommands timed:\n\n"
        + "\n".join(f"    {c}" for c in commands)
        + "\n"
    )
    print(text)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "replay.md").write_text(text)
    results_file.record("replay", f"## Streaming: `driftline replay`\n\n{text}")
    raw = [
        {"measurement": asdict(r.measurement), "samples": [asdict(s) for s in r.samples]}
        for r in results
    ]
    (OUT / "replay.json").write_text(json.dumps(raw, indent=1) + "\n")
    log(f"wrote {OUT.relative_to(ROOT)}/replay.md and replay.json")
    return 0


def code_version(tree: Path | None) -> str:
    """Which driftline code is measured: a folder, or a commit and whether it was edited."""
    if tree is not None:
        return f"code from {tree}"
    git = ["git", "-C", str(ROOT)]
    try:
        head = subprocess.run(
            [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        edited = subprocess.run(
            [*git, "status", "--porcelain", "--", *PACKAGES],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "code: working tree"
    return f"code: {head}" + (" + uncommitted changes" if edited else "")


def source_digest(tree: Path | None) -> str:
    """A hash of the measured packages' sources, to notice edits during a run."""
    digest = hashlib.sha256()
    for package in PACKAGES:
        for path in sorted((tree or ROOT).joinpath(package).rglob("*.py")):
            digest.update(str(path).encode() + path.read_bytes())
    return digest.hexdigest()


def _short(command: list[str]) -> list[str]:
    """The command with paths relative to the repository root, ``driftline`` by name."""
    out = []
    for part in command:
        path = Path(part)
        if path.name == "driftline":
            out.append("driftline")
        elif path.is_absolute() and path.is_relative_to(ROOT):
            out.append(str(path.relative_to(ROOT)))
        else:
            out.append(part)
    return out
