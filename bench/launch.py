"""The benchmark's launcher: runs one command, writes its wall time and peak RSS.

Usage: ``python -I -S bench/launch.py RESULT COMMAND [ARG...]``; RESULT gets one line,
``wall_seconds ru_maxrss exit_code``. Output and environment pass through unchanged.
From Python: :func:`command` wraps a command line in the launcher, :func:`read_result`
reads what it wrote, :func:`largest_peak` sums up runs.

Why a launcher: on Linux a child's ``ru_maxrss`` (from ``wait4``, or
``getrusage(RUSAGE_CHILDREN)``) starts at the peak RSS of the process it was spawned
from, since ``exec`` keeps the old memory map's high-water mark. A child of the
benchmark itself, which has held generated events, would look at least that large.
Spawned from this small interpreter (no ``site``, standard library only), a child's peak
is its own, give or take the ~10 MiB of a bare Python.
"""

import os
import sys
import time


def command(result: str, argv: list[str]) -> list[str]:
    """``argv`` run under the launcher (by this Python), its result written to ``result``."""
    return [sys.executable, "-I", "-S", os.path.abspath(__file__), result, *argv]


def read_result(result: str) -> tuple[float, float, int]:
    """Wall seconds, peak RSS in MiB and exit code of a command run under the launcher."""
    with open(result) as file:
        wall, rss, code = file.read().split()
    unit = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes or KiB
    return float(wall), int(rss) * unit / 2**20, int(code)


def largest_peak(peaks: list[float | None]) -> float | None:
    """The largest of several runs' peak RSS, leaving out runs without one (None if none).

    >>> largest_peak([12.0, None, 30.5]), largest_peak([None])
    (30.5, None)
    """
    measured = [peak for peak in peaks if peak is not None]
    return max(measured) if measured else None


def main() -> int:
    """Spawn the command, wait for it, write the result line."""
    result, argv = sys.argv[1], sys.argv[2:]
    started = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, os.environ)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - started
    with open(result, "w") as file:
        file.write(f"{wall} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
