"""How the Faust app of `driftline worker` is put together (no broker needed)."""

import asyncio
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from monitor.kafka.worker import build_app
from monitor.reference.profile import ReferenceSet
from monitor.settings import MonitorSettings


def test_the_worker_app_produces_idempotently_and_batches() -> None:
    settings = MonitorSettings(kafka={"batch_messages": 300, "topic_suffix": "-t"})
    app = build_app(settings, ReferenceSet([]))
    extra = app.producer._settings_extra()
    assert (extra["acks"], extra["enable_idempotence"]) == ("all", True)
    assert app.conf.broker_max_poll_records == 300
    assert app.conf.stream_buffer_maxsize == 1200
    assert {t for a in app.agents.values() for t in a.channel.topics} == {
        "driftline.predictions-t",  # routed by model...
        "driftline.labels-t",
        "driftline.metrics-t",
        "driftline-predictions-by-model-t",  # ...then applied
        "driftline-labels-by-model-t",
        "driftline-metrics-by-model-t",
    }


def test_the_worker_consumer_waits_briefly_on_quiet_partitions() -> None:
    settings = MonitorSettings(kafka={"fetch_wait_ms": 40})

    async def create() -> int:
        app = build_app(settings, ReferenceSet([]))
        consumer = app.consumer._thread._create_worker_consumer(app.transport)
        wait: int = consumer._fetch_max_wait_ms
        return wait

    assert asyncio.run(create()) == 40  # Faust's own is 1,500 ms


def test_the_worker_consumer_takes_the_group_timeouts_and_instance_id() -> None:
    settings = MonitorSettings(
        kafka={"session_timeout": 8, "heartbeat_interval": 2, "instance_id": "worker-1"}
    )

    async def create() -> tuple[int, int, str]:
        app = build_app(settings, ReferenceSet([]))
        consumer = app.consumer._thread._create_worker_consumer(app.transport)
        return (
            consumer._session_timeout_ms,
            consumer._heartbeat_interval_ms,
            consumer._group_instance_id,
        )

    assert asyncio.run(create()) == (8000, 2000, "worker-1")  # Faust's own: 60 s, 3 s, none


def test_a_heartbeat_must_come_within_the_session() -> None:
    with pytest.raises(ValueError, match="heartbeat_interval"):
        MonitorSettings(kafka={"session_timeout": 6, "heartbeat_interval": 6})


def test_the_worker_app_keeps_its_data_in_a_temporary_directory(tmp_path: Path) -> None:
    """Faust's default, ``<app_id>-data`` in the current directory, left a folder in the
    checkout per test and benchmark run; the worker's goes when the process exits."""
    script = """if True:
        import asyncio
        from monitor.kafka.worker import build_app
        from monitor.reference.profile import ReferenceSet
        from monitor.settings import MonitorSettings

        app = build_app(MonitorSettings(kafka={"app_id": "driftline-t"}), ReferenceSet([]))
        asyncio.run(app.on_first_start())  # where a starting worker makes its folders
        print(app.conf.datadir, app.conf.tabledir.is_dir())
    """
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    datadir, made = done.stdout.split()
    assert made == "True"  # Faust made its folders there...
    assert Path(datadir).parent == Path(tempfile.gettempdir()), datadir  # ...a temporary one
    assert Path(datadir).name.startswith("driftline-t-data-")
    assert list(tmp_path.iterdir()) == [], "Faust wrote into the current directory"
    assert not Path(datadir).exists(), f"{datadir} is left after the process exited"
