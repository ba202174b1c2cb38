"""river's streaming detectors on the peers' data set: one per numeric feature.

Each numeric feature is a stream of its reference values, then its current values
(lists of Python floats, built before timing). A fresh detector per feature
(``--detector adwin``: ``river.drift.ADWIN()``; ``page_hinkley``:
``river.drift.PageHinkley()``, default parameters) gets every value with ``update`` and
is asked ``drift_detected`` after each: the one timed part, ``updates``.

A shifted feature is found when its detector alarms in the current part; an alarm on an
unshifted feature, or on a shifted one before the shift, is a false alarm.
"""

import argparse
from time import perf_counter
from typing import Any

import numpy as np
from harness import DataSet, Outcome, main
from river import drift

DETECTORS = {"adwin": drift.ADWIN, "page_hinkley": drift.PageHinkley}


def prepare(data: DataSet, args: argparse.Namespace) -> list[list[float]]:
    """Each numeric feature's stream: its reference values, then its current ones."""
    joined = np.concatenate([data.reference_numeric, data.current_numeric])
    streams: list[list[float]] = joined.T.tolist()
    return streams


def call(streams: list[list[float]], data: DataSet, args: argparse.Namespace) -> Outcome:
    """Feed every stream to its own detector; note where each alarmed."""
    make: Any = DETECTORS[args.detector]
    started = perf_counter()
    alarms: list[list[int]] = []
    for values in streams:
        detector = make()
        update = detector.update
        hits = []
        for i, value in enumerate(values):
            update(value)
            if detector.drift_detected:
                hits.append(i)
        alarms.append(hits)
    done = perf_counter()
    onset = data.reference_numeric.shape[0]
    flagged, false_alarms, delays = [], [], {}
    for name, hits in zip(data.numeric_names, alarms, strict=True):
        after = [i for i in hits if i >= onset]
        shifted = name in data.shifted
        if after:
            flagged.append(name)
        if (not shifted and hits) or (shifted and len(after) < len(hits)):
            false_alarms.append(name)
        if shifted and after:
            delays[name] = after[0] - onset
    updates = sum(len(values) for values in streams)
    return Outcome(
        {"updates": done - started},
        flagged,
        false_alarms,
        tested=list(data.numeric_names),
        info={
            "updates": updates,
            "alarms": sum(len(h) for h in alarms),
            "delay_after_shift": delays,
        },
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--detector", choices=sorted(DETECTORS), default="adwin")
    raise SystemExit(main("river", ["river", "numpy"], prepare, call, parser))
