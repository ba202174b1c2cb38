"""How busy the machine and a process were: CPU counters from Linux's ``/proc``.

A benchmark reads the counters before and after a timed span; on a small shared machine
anything else running shows up there first.
"""

import os
import platform
from pathlib import Path

__all__ = [
    "cpu_model",
    "machine_counters",
    "machine_shares",
    "machine_text",
    "process_cpu_seconds",
]


def machine_counters() -> tuple[float, float] | None:
    """CPU seconds the machine was busy (all cores) and seconds some task waited for a
    CPU (``/proc/pressure/cpu``), both since boot; None off Linux or without PSI."""
    try:
        ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        pressure = Path("/proc/pressure/cpu").read_text().split("\n", 1)[0]
    except (OSError, ValueError):
        return None
    idle = ticks[3] + ticks[4]  # idle + iowait
    waited = int(pressure.rsplit("total=", 1)[1]) / 1e6
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK"), waited


def machine_shares(
    before: tuple[float, float] | None, after: tuple[float, float] | None, seconds: float
) -> dict[str, float] | None:
    """Busy share of all cores, and share of the time some task waited for a CPU.

    >>> machine_shares((10.0, 1.0), (13.0, 1.5), 2.0)["waiting"]
    0.25
    """
    if before is None or after is None or seconds <= 0:
        return None
    cores = os.cpu_count() or 1
    return {
        "busy": (after[0] - before[0]) / (seconds * cores),
        "waiting": (after[1] - before[1]) / seconds,
    }


def machine_text(shares: dict[str, float] | None) -> str:
    """How loaded the machine was, in words."""
    if shares is None:
        return "machine load n/a"
    return (
        f"machine CPU busy {shares['busy']:.0%} of {os.cpu_count()} cores, some task waiting "
        f"for a CPU {shares['waiting']:.0%} of the time"
    )


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of process ``pid`` so far (Linux ``/proc``), else None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_model() -> str:
    """The CPU's model name from ``/proc/cpuinfo``, else the platform's processor."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
