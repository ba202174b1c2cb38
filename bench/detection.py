"""Detection quality: delay curve, episodes per drift and false alarms per 1,000,000 events.

Run from the repository root::

    python -m bench detection                 # 5 seeds, 1,000,000 stationary events x 3 seeds
    python -m bench detection --quick         # 2 seeds, 200,000 stationary events x 1 seed
    python -m bench detection --only delay --seeds 3

One model at the settings given (default: ``MonitorSettings()``), 25 features, normal
(``shapes="normal"``) or of varied shapes (``shapes="varied"``: lognormal, Pareto,
Poisson counts, bimodal, zero-inflated, rare categories, some missing values; see
:mod:`producers.synthetic`). Its reference is a clean draw (``stream=1``) of 20,000
events. Events are built in memory as decoded predictions
(:meth:`~producers.synthetic.SyntheticModel.predictions`, one event per second of event
time) and fed to :meth:`monitor.core.Monitor.process_predictions` in micro-batches of
1,000: no files, no JSON. An alert's position is the index of the last event of the
window that fired it.

- **Delay curve**: per drift (mean shifts of 0.1 to 1 sd, variance ratios 1.1 to 2, 30%
  missing values, a new category at 25%, a feature turning constant) and seed, the events
  from the onset (10,000 + a seeded offset under 1,000, so never a multiple of the hop) to
  the first firing alert on the drifting feature, of any kind; the median and max over
  seeds, with Lorden's bound for a CUSUM beside each mean shift:
  ``2 ln(ERT x features) / d^2`` with ``ERT`` = 1,000,000 events and 25 features. Seed
  ``k`` drifts the ``k``-th feature of a rotation over the shapes (varied) or over the
  features (normal). Not detected within 20,000 events counts as missed.
- **Episodes**: drifts held 40,000 events, then ended: the firing alerts on the drifting
  feature from the onset to 10,000 events past the end, per alert kind (target: exactly 1
  per kind), ``resolved`` alerts while the drift still held (target: none), and the
  events from the end to its ``resolved`` alert.
- **False alarms**: stationary streams of 1,000,000 events per seed: firing alerts per
  1,000,000 events, by kind (target: at most 1 per model).

The tables go to stdout, to the ``detection`` section of ``bench/RESULTS.md`` and to
``bench/out/detection.md``, every run to
``bench/out/detection.json``. ``tests/quality/test_targets.py`` pins the issue's targets
with the same functions.
"""

import argparse
import json
import os
import platform
import shlex
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any, TypeVar

import numpy as np

from monitor.core import Monitor
from monitor.reference.build import ProfileBuilder
from monitor.reference.profile import ReferenceProfile, ReferenceSet
from monitor.settings import MonitorSettings
from producers.synthetic import START, VARIED_NUMERIC, Drift, DriftKind, Shapes, SyntheticModel
from schemas.alerts import Alert, AlertStatus

__all__ = [
    "DELAY_CASES",
    "EPISODE_CASES",
    "Case",
    "Episode",
    "Fed",
    "delay",
    "episode",
    "false_alarms",
    "feed",
    "lorden",
    "main",
    "onset",
    "target",
]

MODEL = "bench-model"
REFERENCE_EVENTS = 20_000
BATCH = 1_000
ERT = 1_000_000
"""Expected events between false alarms that Lorden's bound is computed for."""
FEATURES = 25
ONSET = 10_000
MAX_DELAY = 20_000
HOLD = 40_000
TAIL = 10_000
SHAPES: tuple[Shapes, ...] = ("normal", "varied")

NUMERIC_TARGETS: dict[Shapes, tuple[str, ...]] = {
    "normal": tuple(f"num_{j:02d}" for j in range(20)),
    # one of each shape first: normal, lognormal, Pareto, Poisson (with missing values),
    # bimodal, zero-inflated, rounded, then the rest
    "varied": ("num_00", "num_03", "num_05", "num_08", "num_09", "num_11", "num_13", "num_07"),
}
CATEGORICAL_TARGETS: dict[Shapes, tuple[str, ...]] = {
    "normal": tuple(f"cat_{j}" for j in range(5)),
    "varied": tuple(f"cat_{j}" for j in range(5)),
}


def lorden(shift: float, ert: float = ERT, features: int = FEATURES) -> float:
    """Lorden's bound: the events an ideal CUSUM needs to see a mean shift of ``shift``
    standard deviations at one false alarm per ``ert`` events over ``features`` features.

    >>> round(lorden(0.5)), round(lorden(0.25))
    (136, 545)
    """
    return 2.0 * float(np.log(ert * features)) / shift**2


@dataclass(frozen=True)
class Case:
    """A drift of the benchmark: its kind and magnitude, on a numeric or categorical
    feature."""

    name: str
    kind: DriftKind
    magnitude: float = 0.0
    categorical: bool = False

    @property
    def bound(self) -> float | None:
        """Lorden's bound for a mean shift, else ``None``."""
        return lorden(self.magnitude) if self.kind == "mean_shift" else None


DELAY_CASES = (
    *(Case(f"mean shift {d:g} sd", "mean_shift", d) for d in (0.1, 0.15, 0.25, 0.5, 1.0)),
    *(Case(f"variance x{r:g}", "variance", r) for r in (1.1, 1.25, 1.5, 2.0)),
    Case("missing values 30%", "missing_spike", 0.3),
    Case("new category 25%", "new_category", 0.25, categorical=True),
    Case("constant", "constant"),
)
EPISODE_CASES = (
    Case("mean shift 0.1 sd", "mean_shift", 0.1),
    Case("scale x1.15", "variance", 1.15**2),
    Case("variance x1.1", "variance", 1.1),
    Case("new category 5%", "new_category", 0.05, categorical=True),
    Case("new category 10%", "new_category", 0.10, categorical=True),
    Case("mean shift 0.5 sd", "mean_shift", 0.5),
    Case("missing values 30%", "missing_spike", 0.3),
    Case("new category 25%", "new_category", 0.25, categorical=True),
    Case("constant", "constant"),
)


def target(case: Case, shapes: Shapes, seed: int) -> str:
    """The feature seed ``seed`` drifts: a rotation over the shapes or features.

    >>> target(DELAY_CASES[0], "varied", 2), target(DELAY_CASES[10], "normal", 7)
    ('num_05', 'cat_2')
    """
    names = (CATEGORICAL_TARGETS if case.categorical else NUMERIC_TARGETS)[shapes]
    return names[seed % len(names)]


def onset(seed: int) -> int:
    """The drift's onset for ``seed``: 10,000 plus a seeded odd offset under 1,000 (so
    never on a hop of an even length).

    >>> [onset(s) for s in range(3)]
    [10141, 10907, 10537]
    """
    return ONSET + 1 + 2 * int(np.random.default_rng([seed, 11]).integers(0, 500))


@lru_cache(maxsize=32)
def _reference(seed: int, shapes: Shapes, settings_json: str) -> ReferenceProfile:
    settings = MonitorSettings.model_validate_json(settings_json)
    twin = SyntheticModel(MODEL, seed=seed, stream=1, rate=1.0, shapes=shapes)
    builder = ProfileBuilder(MODEL, twin.version, settings.reference)
    for event in twin.predictions(REFERENCE_EVENTS):
        builder.add(event.features, event.prediction)
    return builder.build()


@dataclass
class Fed:
    """What one stream gave: its alerts with the index of the event that closed their
    window, the events fed, and the seconds it took (generation included) and the
    monitor's share of them."""

    alerts: list[tuple[int, Alert]] = field(default_factory=list)
    events: int = 0
    seconds: float = 0.0
    monitor_seconds: float = 0.0

    def on(self, subject: str, status: AlertStatus = AlertStatus.FIRING) -> list[tuple[int, Alert]]:
        """The alerts on ``subject`` of ``status``, in order."""
        return [(i, a) for i, a in self.alerts if a.subject == subject and a.status == status]


def feed(
    seed: int,
    shapes: Shapes,
    drifts: Sequence[Drift],
    events: int,
    settings: MonitorSettings | None = None,
    stop: Callable[[Fed], bool] | None = None,
) -> Fed:
    """Feed ``events`` predictions of model ``seed`` (with ``drifts``) to a fresh
    :class:`~monitor.core.Monitor` holding the model's reference, in micro-batches of
    1,000; stop early once ``stop`` says so after a batch."""
    settings = settings or MonitorSettings()
    reference = _reference(seed, shapes, settings.model_dump_json())
    monitor = Monitor(settings, ReferenceSet([reference]))
    model = SyntheticModel(MODEL, seed=seed, rate=1.0, shapes=shapes, drifts=drifts)
    fed = Fed()
    started = time.perf_counter()
    while fed.events < events:
        batch = model.predictions(min(BATCH, events - fed.events))
        fed.events += len(batch)
        before = time.perf_counter()
        out = monitor.process_predictions(batch)
        fed.monitor_seconds += time.perf_counter() - before
        for alert in out.alerts:
            fed.alerts.append((round(alert.window.end.timestamp() - START), alert))
        if stop is not None and stop(fed):
            break
    fed.seconds = time.perf_counter() - started
    return fed


@dataclass(frozen=True)
class Delay:
    """One run of the delay curve."""

    case: str
    shapes: Shapes
    seed: int
    feature: str
    onset: int
    delay: int | None
    """Events from the onset to the first firing alert on the feature; ``None``: missed."""
    early: int
    """Firing alerts on the feature before the onset (false alarms)."""
    events: int
    seconds: float


def delay(case: Case, shapes: Shapes, seed: int, settings: MonitorSettings | None = None) -> Delay:
    """Run ``case`` once: the events from its onset to the first firing on its feature."""
    feature, start = target(case, shapes, seed), onset(seed)
    drift = Drift(case.kind, start, (feature,), magnitude=case.magnitude)

    def detected(fed: Fed) -> bool:
        return any(i >= start for i, _ in fed.on(feature))

    fed = feed(seed, shapes, [drift], start + MAX_DELAY, settings, stop=detected)
    after = [i - start for i, _ in fed.on(feature) if i >= start]
    early = sum(1 for i, _ in fed.on(feature) if i < start)
    found = after[0] if after else None
    return Delay(case.name, shapes, seed, feature, start, found, early, fed.events, fed.seconds)


@dataclass(frozen=True)
class Episode:
    """One drift held ``HOLD`` events, then ended."""

    case: str
    shapes: Shapes
    seed: int
    feature: str
    onset: int
    firing: dict[str, int]
    """Firing alerts on the feature per alert kind, from the onset to the end of the tail."""
    resolved: dict[str, int | None]
    """Per kind that fired: events from the drift's end to its first ``resolved`` alert
    (``None``: none after the end)."""
    resolved_during: dict[str, int]
    """Per kind that fired: ``resolved`` alerts while the drift still held (target: 0)."""
    early: int
    events: int
    seconds: float


def episode(
    case: Case,
    shapes: Shapes,
    seed: int,
    settings: MonitorSettings | None = None,
    hold: int = HOLD,
    tail: int = TAIL,
) -> Episode:
    """Run ``case`` held ``hold`` events and then ended, ``tail`` events more."""
    feature, start = target(case, shapes, seed), onset(seed)
    end = start + hold
    drift = Drift(case.kind, start, (feature,), magnitude=case.magnitude, end=end)
    fed = feed(seed, shapes, [drift], end + tail, settings)
    firing = Counter(a.kind.value for i, a in fed.on(feature) if i >= start)
    resolved: dict[str, int | None] = {}
    during: dict[str, int] = {}
    for kind in firing:
        ends = [i for i, a in fed.on(feature, AlertStatus.RESOLVED) if a.kind.value == kind]
        after = [i - end for i in ends if i >= end]
        resolved[kind] = after[0] if after else None
        during[kind] = sum(1 for i in ends if start <= i < end)
    early = sum(1 for i, _ in fed.on(feature) if i < start)
    return Episode(
        case.name,
        shapes,
        seed,
        feature,
        start,
        dict(firing),
        resolved,
        during,
        early,
        fed.events,
        fed.seconds,
    )


@dataclass(frozen=True)
class Stationary:
    """A stationary stream: its firing alerts by kind, and on which subjects."""

    shapes: Shapes
    seed: int
    events: int
    firing: dict[str, int]
    subjects: list[str]
    seconds: float
    monitor_seconds: float


def false_alarms(
    shapes: Shapes, seed: int, events: int = 1_000_000, settings: MonitorSettings | None = None
) -> Stationary:
    """Feed ``events`` stationary events of model ``seed``; count its firing alerts."""
    fed = feed(seed, shapes, [], events, settings)
    fired = [a for _, a in fed.alerts if a.status == AlertStatus.FIRING]
    firing = Counter(a.kind.value for a in fired)
    subjects = [f"{a.kind.value}:{a.subject}@{i}" for i, a in fed.alerts if a in fired]
    return Stationary(
        shapes, seed, fed.events, dict(firing), subjects, fed.seconds, fed.monitor_seconds
    )


_Run = TypeVar("_Run", "Delay", "Episode")


def _shape_of(feature: str, shapes: Shapes) -> str:
    if shapes == "normal" or not feature.startswith("num_"):
        return feature
    return f"{feature} {VARIED_NUMERIC[int(feature[4:])].kind}"


def _groups(runs: list[_Run], cases: Sequence[Case]) -> Iterator[tuple[Case, Shapes, list[_Run]]]:
    """The runs of each case and shape family, in the order of ``cases``."""
    for case in cases:
        for shapes in SHAPES:
            mine = [r for r in runs if r.case == case.name and r.shapes == shapes]
            if mine:
                yield case, shapes, mine


def _found(values: list[int | None]) -> tuple[list[int], int]:
    """The values found, and how many were not (``None``)."""
    found = [v for v in values if v is not None]
    return found, len(values) - len(found)


def _delay_table(runs: list[Delay]) -> list[str]:
    lines = [
        "| drift | shapes | median delay | max delay | missed | Lorden bound | worst feature "
        "| early alarms |",
        "|---|---|---:|---:|---:|---:|---|---:|",
    ]
    for case, shapes, mine in _groups(runs, DELAY_CASES):
        found, missed = _found([r.delay for r in mine])
        worst = max(mine, key=lambda r: MAX_DELAY + 1 if r.delay is None else r.delay)
        bound = f"{case.bound:,.0f}" if case.bound is not None else ""
        median = f"{statistics.median(found):,.0f}" if found else "-"
        top = f"{max(found):,}" if found else "-"
        lines.append(
            f"| {case.name} | {shapes} | {median} | {top} | {missed}/{len(mine)} | {bound} "
            f"| {_shape_of(worst.feature, shapes)} | {sum(r.early for r in mine)} |"
        )
    return lines


def _episode_table(runs: list[Episode]) -> list[str]:
    lines = [
        "| drift held 40,000 events | shapes | firing alerts per run (by kind) "
        "| runs with exactly 1 per kind | resolved while drifting | events from end to "
        "resolved (max) |",
        "|---|---|---|---:|---:|---:|",
    ]
    for case, shapes, mine in _groups(runs, EPISODE_CASES):
        per_run = ["+".join(f"{n}" for _, n in sorted(r.firing.items())) or "0" for r in mine]
        exact = sum(1 for r in mine if r.firing and set(r.firing.values()) == {1})
        resolved, unresolved = _found([d for r in mine for d in r.resolved.values()])
        text = f"{max(resolved):,}" if resolved else "-"
        if unresolved:
            text += f" ({unresolved} not after the end)"
        during = sum(sum(r.resolved_during.values()) for r in mine)
        kinds = sorted({k for r in mine for k in r.firing})
        lines.append(
            f"| {case.name} | {shapes} | {', '.join(per_run)} ({'+'.join(kinds) or '-'}) "
            f"| {exact}/{len(mine)} | {during} | {text} |"
        )
    return lines


def _alarm_table(runs: list[Stationary]) -> list[str]:
    lines = [
        "| shapes | seeds | events | firing alerts per 1,000,000 events | by kind |",
        "|---|---:|---:|---:|---|",
    ]
    for shapes in SHAPES:
        mine = [r for r in runs if r.shapes == shapes]
        if not mine:
            continue
        events = sum(r.events for r in mine)
        kinds: Counter[str] = Counter()
        for r in mine:
            kinds.update(r.firing)
        rate = sum(kinds.values()) / events * 1_000_000
        by_kind = ", ".join(f"{k} {n / events * 1e6:.2g}" for k, n in sorted(kinds.items()))
        lines.append(f"| {shapes} | {len(mine)} | {events:,} | {rate:.2g} | {by_kind or '-'} |")
    return lines


def main(argv: list[str]) -> int:
    """Run the sections asked for; print and write the tables."""
    from bench import results
    from bench.cardinality import _commit
    from bench.cli import log
    from bench.stream import OUT

    parser = argparse.ArgumentParser(prog="python -m bench detection", description=__doc__)
    parser.add_argument("--seeds", type=int, default=5, help="seeds per drift (delay, episodes)")
    parser.add_argument(
        "--events", type=int, default=1_000_000, help="events per stationary stream"
    )
    parser.add_argument(
        "--alarm-seeds", type=int, default=3, help="stationary streams per shape family"
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=("delay", "episodes", "alarms"),
        default=["delay", "episodes", "alarms"],
        help="which sections",
    )
    parser.add_argument(
        "--settings", default="{}", help="monitor settings as JSON, e.g. '{\"policy\": {...}}'"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="2 seeds, 1 stationary stream of 200,000 events per shape family",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.events, args.alarm_seeds = 2, 200_000, 1
    settings = MonitorSettings.model_validate_json(args.settings)

    delays: list[Delay] = []
    episodes: list[Episode] = []
    alarms: list[Stationary] = []
    if "delay" in args.only:
        for case in DELAY_CASES:
            for shapes in SHAPES:
                for seed in range(args.seeds):
                    delays.append(delay(case, shapes, seed, settings))
            log(f"delay: {case.name}: {[r.delay for r in delays if r.case == case.name]}")
    if "episodes" in args.only:
        for case in EPISODE_CASES:
            for shapes in SHAPES:
                for seed in range(args.seeds):
                    episodes.append(episode(case, shapes, seed, settings))
            mine = [r.firing for r in episodes if r.case == case.name]
            log(f"episodes: {case.name}: {mine}")
    if "alarms" in args.only:
        for shapes in SHAPES:
            for seed in range(100, 100 + args.alarm_seeds):
                alarms.append(false_alarms(shapes, seed, args.events, settings))
                log(f"false alarms: {shapes} seed {seed}: {alarms[-1].firing}")

    runs: Sequence[Delay | Episode | Stationary] = [*delays, *episodes, *alarms]
    events = sum(r.events for r in runs)
    seconds = sum(r.seconds for r in runs)
    lines = [
        f"`python -m bench {shlex.join(['detection', *argv])}`: one model, 25 features, "
        f"reference {REFERENCE_EVENTS:,} clean events, settings {args.settings}, "
        f"micro-batches of {BATCH:,}. {os.cpu_count()} cores, "
        f"{platform.processor() or platform.machine()}, Python {platform.python_version()}. "
        f"driftline code: {_commit()}. Harness: {events:,} events in {seconds:,.0f} s "
        f"({events / max(seconds, 1e-9):,.0f} events/s, generation included).",
    ]
    if alarms:
        alone = sum(r.events for r in alarms) / max(sum(r.monitor_seconds for r in alarms), 1e-9)
        lines[0] += f" `Monitor.process_predictions` alone: {alone:,.0f} events/s."
    if delays:
        lines += [
            "",
            f"Delay (events from onset to the first firing alert on the feature), "
            f"{args.seeds} seeds; missed = not within {MAX_DELAY:,} events; early alarms = "
            "firing on the feature before the onset.",
            "",
            *_delay_table(delays),
        ]
    if episodes:
        lines += [
            "",
            f"Episodes: drift held {HOLD:,} events then ended, {TAIL:,} events more; "
            f"{args.seeds} seeds. Target: exactly 1 firing alert per kind, then `resolved`.",
            "",
            *_episode_table(episodes),
        ]
    if alarms:
        lines += [
            "",
            f"False alarms on stationary streams of {args.events:,} events "
            f"(target: at most 1 per 1,000,000 per model).",
            "",
            *_alarm_table(alarms),
        ]
    table = "\n".join(lines)
    print(table)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "detection.md").write_text(table + "\n")
    results.record("detection", f"## Detection quality\n\n{table}\n")
    figures: dict[str, Any] = {
        "argv": argv,
        "settings": json.loads(args.settings),
        "events": events,
        "seconds": seconds,
        "delay": [asdict(r) for r in delays],
        "episodes": [asdict(r) for r in episodes],
        "false_alarms": [asdict(r) for r in alarms],
    }
    (OUT / "detection.json").write_text(json.dumps(figures, indent=1) + "\n")
    return 0
