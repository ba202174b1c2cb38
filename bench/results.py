"""``bench/RESULTS.md``: each benchmark command rewrites its own section of it.

A section lies between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->``; the rest of
the file is kept, so ``python -m bench peers``, ``replay`` and ``kafka`` can each be
re-run alone.
"""

from pathlib import Path

__all__ = ["INTRO", "RESULTS", "record", "splice"]

RESULTS = Path(__file__).with_name("RESULTS.md")
INTRO = """# Benchmark results

Figures measured on this project's development machine; each section names the command
that produced it, the machine and the code measured. Regenerate a section with its
command, from the repository root, with the project's Python (see `bench/README.md`).

- **Drift computation: driftline and its peers** (`python -m bench peers`): the drift
  computation of driftline, Evidently, NannyML, river and plain numpy on the same
  50,000 + 50,000 rows, each in a process of its own.
- **Streaming** sections (`python -m bench replay`, `python -m bench kafka`): events/s of
  replays and of the Kafka worker.
- **Hostile cardinality** (`python -m bench cardinality`): peak RSS and checkpoint size of
  the embedded engine under 1,000,000 distinct model names, versions, feature names,
  categories or metric names.
- **Detection quality** (`python -m bench detection`): delay curve beside Lorden's bound,
  firing alerts per persistent drift, false alarms per 1,000,000 stationary events.

A command rewrites only its own section, between its HTML comment markers.
"""


def splice(text: str | None, section: str, name: str = "peers") -> str:
    """The results file with ``section`` between the markers of ``name``.

    A new file gets the intro first; a file without the markers gets the section
    appended; otherwise only what lies between the markers is replaced.

    >>> splice("# R\\n\\nother\\n", "new")
    '# R\\n\\nother\\n\\n<!-- peers:start -->\\nnew\\n<!-- peers:end -->\\n'
    >>> splice("a\\n<!-- replay:start -->\\nold\\n<!-- replay:end -->\\nb\\n", "new", "replay")
    'a\\n<!-- replay:start -->\\nnew\\n<!-- replay:end -->\\nb\\n'
    """
    start_marker, end_marker = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start_marker}\n{section.strip()}\n{end_marker}"
    if text is None:
        return f"{INTRO}\n{block}\n"
    start, end = text.find(start_marker), text.find(end_marker)
    if start < 0 or end < start:
        return text.rstrip("\n") + f"\n\n{block}\n"
    return text[:start] + block + text[end + len(end_marker) :]


def record(name: str, section: str) -> None:
    """Write ``section`` into ``bench/RESULTS.md`` as the section ``name``."""
    RESULTS.write_text(splice(RESULTS.read_text() if RESULTS.is_file() else None, section, name))
