"""The benchmark's launcher: runs one command, writes its wall time and peak RSS.

Usage: ``python -I -S bench/launch.py RESULT COMMAND [ARG...]``; RESULT gets one line,
``wall_seconds ru_maxrss exit_code``. Output and environment pass through unchanged.

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


def main() -> int:
    """Spawn the command, wait for it, write the result line."""
    result, command = sys.argv[1], sys.argv[2:]
    started = time.perf_counter()
    pid = os.posix_spawn(command[0], command, os.environ)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - started
    with open(result, "w") as file:
        file.write(f"{wall} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
