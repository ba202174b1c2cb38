"""The Kafka benchmark's report: the throughput and latency tables and their notes."""

import argparse
import contextlib
import os
import platform
import shlex
import statistics
import time
from importlib import metadata
from typing import Any

from bench.kafka.figures import Row, latency_summary
from bench.kafka.latency import LATENCY_ENV
from bench.machine import machine_text
from bench.replay import code_version

__all__ = ["crc_note", "latency_table", "report", "throughput_table", "versions", "worker_notes"]


def report(
    argv: list[str],
    args: argparse.Namespace,
    predictions: int,
    broker: str,
    rows: list[Row],
    latency: dict[str, Any] | None,
    load: tuple[float, float, float],
    started: float,
    changed: bool,
) -> str:
    """The whole report: caption, throughput table and notes, latency table and notes.

    ``load`` is the load average and ``started`` the ``perf_counter`` at the start of the
    benchmark; ``changed`` says that driftline's sources changed during the run.
    """
    command = shlex.join(["python", "-m", "bench", "kafka", *argv])
    caption = (
        f"**Kafka benchmark** — `{command}` (events={predictions:,}, runs={args.runs}, "
        f"partitions={args.partitions}, seed={args.seed}): {broker}; "
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} cores, {platform.machine()}; {versions()}; "
        f"{code_version(args.tree)}."
    )
    notes = [
        "",
        "- Stream: 4 interleaved models of 20 numeric + 5 categorical features "
        "(`bench/stream.py`), predictions only; one worker, default window "
        "(2,000 events, hop 500) and policy. batch = the producer SDK's messages "
        f"({predictions:,} events in JSON arrays of ≤ 500 events of one model, "
        "gzip); event = one JSON object per message, no compression.",
        "- Worker rows: timed from the first Kafka timestamp at which every model has had "
        "a window summary published to the last summary; events = growth of the summed "
        "window positions over that span. Consumer rows: first record returned → last "
        "event decoded (`msgspec.json.decode`, untyped). Produce rows: first send → "
        "flushed (1 run: the load itself, or the SDK's batch messages re-sent).",
        "- worker CPU: the worker's user + system CPU seconds over the timed span / its "
        "wall seconds (1 core = 100%; `/proc` sampled every 0.2 s, interpolated).",
        *crc_note(),
        *worker_notes(rows),
    ]
    text = caption + "\n\nThroughput\n\n" + throughput_table(rows) + "\n" + "\n".join(notes)
    if latency is not None:
        sdk = latency["sdk"]
        text += (
            "\n\nAlert latency (Kafka timestamp of the output message - its `window.end`, "
            "the send time of the event that closed the window)\n\n"
            + latency_table(latency)
            + "\n\n"
            + f"- {latency['events']:,} events of 4 models (drift from a third of the way) "
            f"sent through the SDK at {latency['achieved_rate']:,.0f} events/s for "
            f"{latency['sent_seconds']:.1f} s (asked {args.rate:,.0f}/s); SDK sent "
            f"{sdk['sent']:,}, dropped {sdk['dropped']}, failed {sdk['failed']}. Worker "
            f"settings: {' '.join(f'{k}={v}' for k, v in LATENCY_ENV.items())}; it "
            + ("caught up." if latency["caught_up"] else "**had not caught up 120 s later**.")
            + "\n"
            + _latency_cpu_note(latency)
        )
    text += (
        f"\n- load average before → after: {load[0]:.2f} → {os.getloadavg()[0]:.2f}; "
        f"whole benchmark {time.perf_counter() - started:.0f} s."
    )
    if changed:
        text += "\n- **warning: driftline sources changed during the run; results mix versions.**"
    text += "\n"
    return text


def throughput_table(rows: list[Row]) -> str:
    """The throughput table (median over runs)."""
    lines = [
        "| input | measurement | timed | runs | events timed | median s | events/s | worker CPU |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        median = statistics.median(s.seconds for s in row.samples)
        events = statistics.median(s.events for s in row.samples)
        shares = [s.info["cpu_share"] for s in row.samples if s.info.get("cpu_share") is not None]
        cpu = f"{statistics.median(shares):.0%}" if shares else ""
        lines.append(
            f"| {row.shape} | {row.name} | {row.timed} | {len(row.samples)} | {events:,.0f} "
            f"| {median:.2f} | {row.rate:,.0f} | {cpu} |"
        )
    return "\n".join(lines)


def latency_table(result: dict[str, Any]) -> str:
    """The latency table: per output topic, end to end, then its two parts."""
    lines = [
        "| output | part | samples | p50 ms | p90 ms | p99 ms | max ms "
        "| p50 first fifth | p50 last fifth |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    parts = {
        "latency": "end to end",
        "sdk": "SDK: `send_prediction` → message sent",
        "worker": "broker + worker: message sent → output sent",
    }
    for name, rows in result["samples"].items():
        for key, part in parts.items():
            values = [r[key] for r in rows if r[key] is not None]
            if not values:
                lines.append(f"| `{name}` | {part} | 0 | | | | | | |")
                continue
            s = latency_summary(values)
            lines.append(
                f"| `{name}` | {part} | {s['samples']:,} | {s['p50']:.0f} | {s['p90']:.0f} "
                f"| {s['p99']:.0f} | {s['max']:.0f} | {s['first_fifth_p50']:.0f} "
                f"| {s['last_fifth_p50']:.0f} |"
            )
    return "\n".join(lines)


def _latency_cpu_note(latency: dict[str, Any]) -> str:
    """CPU of the worker and of the sender while sending, and the worst stall."""
    shares = latency["cpu_shares"]
    worker = shares["worker"]
    worker_text = "n/a" if worker is None else f"{worker:.0%}"
    return (
        f"- While sending: worker CPU {worker_text}, this process (generator + SDK) "
        f"{shares['bench']:.0%} of a core; {machine_text(latency['machine'])}. Longest "
        "time between two feature-stats messages (normally ~25 ms): "
        f"{latency['longest_gap'] * 1000:,.0f} ms."
    )


def worker_notes(rows: list[Row]) -> list[str]:
    """Per worker row: the Ready → committed cross-check, caps, summaries used."""
    notes = []
    for row in rows:
        for k, s in enumerate(row.samples, 1):
            if "summaries" not in s.info:
                continue
            total = s.info["expected"]
            committed = s.info["ready_to_committed"]
            check = (
                f"Ready → all offsets committed {committed:.1f} s = {total / committed:,.0f} "
                "events/s"
                if committed
                else f"**stopped after {s.info['max_seconds']:.0f} s, not done**"
            )
            short = (
                " **The timed span covers under half the stream: the figure is rough.**"
                if s.events < total / 2 and not s.info["capped"]
                else ""
            )
            notes.append(
                f"- worker, {row.shape}, run {k}: {s.info['summaries']} window summaries, "
                f"{s.events:,} events timed; {machine_text(s.info['machine'])}; "
                f"{check}.{short}"
            )
    return notes


def crc_note() -> list[str]:
    """A warning when kafka-python checks and computes CRC32C in pure Python."""
    from kafka.record import util

    if getattr(util, "crc32c_c", None) is not None:
        return []
    return [
        "- kafka-python computes CRC32C in pure Python here (the optional `crc32c` "
        "module is not installed): it bounds its consume rows (`check_crcs=True`), its "
        "produce rows and the SDK's."
    ]


def versions() -> str:
    """Versions of the Kafka clients."""
    names = ("kafka-python", "aiokafka", "faust-streaming", "msgspec")
    found = []
    for name in names:
        with contextlib.suppress(metadata.PackageNotFoundError):
            found.append(f"{name} {metadata.version(name)}")
    return ", ".join(found)
