"""Measurements that run in a process of their own: ``python -m bench.workers KIND ...``.

Each prints one JSON object on stdout. Only what a measurement needs is imported, so
its process's peak RSS is its own: the decode passes never import driftline.

``decode-json FILE...`` and ``decode-msgspec FILE...``
    Read each file line by line and decode every line with ``json.loads`` or untyped
    ``msgspec.json.decode``: what parsing alone costs. Per file: lines and seconds.
``hot-path EVENTS REF [LABELS]``
    Build the engine as ``driftline replay`` does, then time only
    :func:`monitor.engine.replay.replay`. Reports import, load and replay seconds apart.
"""

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

__all__ = ["decode_files", "hot_path", "main"]


def decode_files(paths: list[Path], decode: Callable[[bytes], Any]) -> dict[str, Any]:
    """Decode every non-blank line of each file; lines and seconds per file."""
    files = []
    for path in paths:
        lines = 0
        started = time.perf_counter()
        with path.open("rb") as file:
            for line in file:
                if line.isspace():
                    continue
                decode(line)
                lines += 1
        files.append({"path": str(path), "lines": lines, "seconds": time.perf_counter() - started})
    return {"files": files}


def hot_path(events: Path, reference: Path, labels: Path | None) -> dict[str, Any]:
    """Replay through an :class:`EmbeddedEngine` in process, without the command line."""
    started = time.perf_counter()
    from monitor.core import Monitor
    from monitor.engine.embedded import EmbeddedEngine
    from monitor.engine.replay import replay
    from monitor.reference.io import read_reference
    from monitor.settings import load_settings
    from schemas import topics

    if labels is not None:
        # The monitor imports river (and scipy with it) at its first label: counted with
        # the imports, not in the replay's time.
        import river.drift  # noqa: F401

    imported = time.perf_counter()
    settings = load_settings(None)
    engine = EmbeddedEngine(Monitor(settings, read_reference(reference, settings.reference)))
    alerts: list[Any] = []
    for topic in (topics.DRIFT_ALERTS, topics.DEGRADATION_ALERTS):
        engine.bus.subscribe(topic, alerts.extend)
    loaded = time.perf_counter()
    summary = replay(engine, events, labels)
    done = time.perf_counter()
    return {
        "accepted": dict(summary.accepted),
        "rejected": sum(summary.rejected.values()),
        "alerts": len(alerts),
        "import_seconds": imported - started,
        "load_seconds": loaded - imported,
        "seconds": done - loaded,
    }


def main(argv: list[str]) -> int:
    """Run one measurement and print its result as JSON."""
    kind, args = argv[0], [Path(a) for a in argv[1:]]
    if kind == "decode-json":
        result = decode_files(args, json.loads)
    elif kind == "decode-msgspec":
        result = decode_files(args, msgspec.json.decode)
    elif kind == "hot-path":
        result = hot_path(args[0], args[1], args[2] if len(args) > 2 else None)
    else:
        print(f"unknown measurement {kind!r}", file=sys.stderr)
        return 2
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
