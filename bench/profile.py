"""Profile of the replay hot path: ``python -m bench profile [--tool TOOL] [--events N]``.

Replays the benchmark stream (:mod:`bench.stream`, predictions and labels) through an
``EmbeddedEngine`` in this process, profiling only :func:`monitor.engine.replay.replay`
(not imports or reference loading). Tools:

``cprofile`` (default)
    The top functions by cumulative and by self time. Per-call overhead inflates
    small, often-called functions.
``pyinstrument``
    A sampled call tree (``pip install pyinstrument``).
``stages``
    No profiler: the main stages' methods are wrapped with timers (they run per
    micro-batch, so the wrappers cost next to nothing) and garbage collection is timed
    with ``gc.callbacks``. Inclusive seconds per stage, at full speed: the numbers to
    compare before and after a change.

The report is printed and written to ``bench/out/profile-TOOL.txt``.
"""

import argparse
import cProfile
import gc
import importlib
import io
import pstats
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.cli import add_tree_option, log
from bench.stream import OUT, ROOT, Stream, build_reference, prepare

__all__ = ["STAGES", "main", "profile_replay"]

EVENTS = 200_000
TOP = 30
TOOLS = ("cprofile", "pyinstrument", "stages")

STAGES: list[tuple[int, str, str, str]] = [
    (1, "monitor.validate.validator", "Validator.decode_many", "decode {kind} (typed msgspec)"),
    (1, "monitor.engine.replay", "_Follower.until", "labels released by event time"),
    (1, "monitor.core", "Monitor.process_predictions", "Monitor.process_predictions"),
    (2, "monitor.model_monitor", "ModelMonitor.add", "ModelMonitor.add"),
    (3, "monitor.stats.window", "WindowSummary.update", "WindowSummary.update"),
    (4, "monitor.stats.columns", "ColumnSummary.update_rows", "ColumnSummary.update_rows"),
    (4, "monitor.stats.columns", "ColumnSummary.update_values", "ColumnSummary.update_values"),
    (3, "monitor.stats.window", "HoppingWindow.push", "HoppingWindow.push (merge panes)"),
    (3, "monitor.model_monitor", "ModelMonitor.test", "ModelMonitor.test (drift tests)"),
    (2, "monitor.core", "Monitor._publish_window", "Monitor._publish_window"),
    (2, "monitor.core", "Monitor._track_labels", "Monitor._track_labels"),
    (1, "monitor.core", "Monitor.process_labels", "Monitor.process_labels"),
]
"""``(depth, module, Class.method, label)``: the stages timed by ``--tool stages``.

Depth only indents the listing; every time is inclusive of the stages below it. The
label's ``{kind}`` is filled with the validator's kind of event.
"""


def _engine(reference: Path) -> tuple[Any, Any]:
    """A fresh engine built as ``driftline replay`` builds it, and the replay function."""
    import river.drift  # noqa: F401  # imported at the first label: not profiled

    from monitor.core import Monitor
    from monitor.engine.embedded import EmbeddedEngine
    from monitor.engine.replay import replay
    from monitor.reference.io import read_reference
    from monitor.settings import load_settings

    settings = load_settings(None)
    return EmbeddedEngine(Monitor(settings, read_reference(reference, settings.reference))), replay


def profile_replay(
    stream: Stream, reference: Path, tool: str, top: int, collect: bool = True
) -> str:
    """Replay the stream once under ``tool``; the report as text.

    ``collect=False`` disables the garbage collector during the replay, to show its cost.
    """
    engine, replay = _engine(reference)
    if not collect:
        gc.collect()
        gc.disable()
    body = ""
    if tool == "stages":
        totals: dict[str, tuple[int, float]] = {}
        missing = _wrap_stages(totals)
        gc_seconds = _time_gc(totals)
        started = time.perf_counter()
        summary = replay(engine, stream.events, stream.labels)
        seconds = time.perf_counter() - started
        gc.callbacks.remove(gc_seconds)
        body = _stage_table(totals, seconds)
        if missing:
            body += "not in this code, so not timed: " + ", ".join(missing) + "\n"
    elif tool == "pyinstrument":
        from pyinstrument import Profiler  # type: ignore[import-not-found,unused-ignore]

        profiler = Profiler(interval=0.001)
        started = time.perf_counter()
        with profiler:
            summary = replay(engine, stream.events, stream.labels)
        seconds = time.perf_counter() - started
        body = profiler.output_text(unicode=True, color=False, show_all=False)
    else:
        cprofile = cProfile.Profile()
        started = time.perf_counter()
        cprofile.enable()
        summary = replay(engine, stream.events, stream.labels)
        cprofile.disable()
        seconds = time.perf_counter() - started
        for order in ("cumulative", "tottime"):
            text = io.StringIO()
            stats = pstats.Stats(cprofile, stream=text)
            stats.strip_dirs().sort_stats(order).print_stats(top)
            body += f"\n=== top {top} by {order} ===\n" + _trim(text.getvalue())
    gc.enable()
    slowed = "" if tool == "stages" else "; the profiler slows it down"
    if not collect:
        slowed += "; garbage collector disabled"
    head = (
        f"{tool}: replay of {summary.accepted['predictions']:,} predictions and "
        f"{summary.accepted['labels']:,} labels in {seconds:.2f} s "
        f"({summary.events / seconds:,.0f} events/s{slowed})\n"
    )
    return head + body


def _wrap_stages(totals: dict[str, tuple[int, float]]) -> list[str]:
    """Replace each stage's method by one that adds its calls and seconds to ``totals``.

    Returns the stages this code does not have (it may have been restructured).
    """
    missing = []
    for _, module_name, qualified, label in STAGES:
        class_name, method_name = qualified.split(".")
        try:
            owner = getattr(importlib.import_module(module_name), class_name)
            original = getattr(owner, method_name)
        except (ImportError, AttributeError):
            missing.append(f"{module_name}.{qualified}")
            continue
        setattr(owner, method_name, _timed(original, label, totals))
    return missing


def _timed(
    original: Callable[..., Any], label: str, totals: dict[str, tuple[int, float]]
) -> Callable[..., Any]:
    def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            name = label.format(kind=getattr(self, "kind", ""))
            calls, seconds = totals.get(name, (0, 0.0))
            totals[name] = (calls + 1, seconds + time.perf_counter() - started)

    return timed


def _time_gc(totals: dict[str, tuple[int, float]]) -> Callable[[str, dict[str, int]], None]:
    """Add garbage-collection passes and their seconds to ``totals``; the callback."""
    started = [0.0]

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
            return
        name = f"garbage collection, generation {info['generation']}"
        calls, seconds = totals.get(name, (0, 0.0))
        totals[name] = (calls + 1, seconds + time.perf_counter() - started[0])

    gc.callbacks.append(callback)
    return callback


def _stage_table(totals: dict[str, tuple[int, float]], replay_seconds: float) -> str:
    rows = [f"{'stage (inclusive)':<58}{'calls':>8}{'seconds':>10}{'share':>8}"]

    def row(depth: int, name: str, calls: str, seconds: float) -> None:
        label = "  " * depth + name
        share = seconds / replay_seconds
        rows.append(f"{label:<58}{calls:>8}{seconds:>10.3f}{share:>8.1%}")

    row(0, "replay()", "1", replay_seconds)
    top_level = 0.0
    for depth, _, _, label in STAGES:
        for kind in ("predictions", "labels"):
            name = label.format(kind=kind)
            if name not in totals:
                continue
            calls, seconds = totals.pop(name)
            # label decoding happens inside "labels released"; show it there
            shown = 2 if kind == "labels" and "{kind}" in label else depth
            row(shown, name, f"{calls:,}", seconds)
            top_level += seconds if shown == 1 else 0.0
    row(1, "rest: outside the stages above (reading, bus, ...)", "", replay_seconds - top_level)
    for name in sorted(totals):  # what is left: garbage collection
        calls, seconds = totals[name]
        row(0, name + " (within the above)", f"{calls:,}", seconds)
    return "\n".join(rows) + "\n"


def _trim(text: str) -> str:
    """pstats output from its table header on (drops the preamble)."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.lstrip().startswith("ncalls"):
            return "\n".join(lines[i:]) + "\n"
    return text


def main(argv: list[str]) -> int:
    """Profile and report."""
    parser = argparse.ArgumentParser(
        prog="python -m bench profile",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--tool", choices=TOOLS, default="cprofile", help="how to profile")
    parser.add_argument("--events", type=int, default=EVENTS, help="predictions to replay")
    parser.add_argument("--seed", type=int, default=0, help="seed of the stream")
    parser.add_argument("--top", type=int, default=TOP, help="functions per cProfile listing")
    parser.add_argument(
        "--no-gc", action="store_true", help="disable the garbage collector during the replay"
    )
    add_tree_option(parser, "profile")
    args = parser.parse_args(argv)
    if args.tree:  # ahead of the working tree and the editable install
        sys.path.insert(0, str(args.tree.resolve()))

    stream = prepare(args.events, args.seed, False, log)
    reference = build_reference(args.seed, log, args.tree)
    report = profile_replay(stream, reference, args.tool, args.top, collect=not args.no_gc)
    import monitor

    report = f"code: {Path(monitor.__file__).parent.parent}\n" + report
    print(report)
    OUT.mkdir(parents=True, exist_ok=True)
    out = OUT / f"profile-{args.tool}{'-no-gc' if args.no_gc else ''}.txt"
    out.write_text(report)
    print(f"bench: wrote {out.relative_to(ROOT)}", file=sys.stderr)
    return 0
