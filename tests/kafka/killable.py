"""`driftline worker` that kills itself with SIGKILL at a chosen step, for fault tests.

``python -m tests.kafka.killable worker --reference REF`` runs the ordinary command
line; ``DRIFTLINE_TEST_KILL=STEP:N`` makes the worker SIGKILL itself at the N-th
occurrence of STEP (counted from its start):

- ``batch``: a micro-batch applied to the monitor in memory, before its outputs and
  checkpoint are sent (mid-batch);
- ``changelog``: a write of the state table acknowledged by the broker, while the
  rest of its checkpoint is still on its way (mid-checkpoint);
- ``commit``: an offset commit done (right after a commit);
- ``error``: a micro-batch applied in memory, then an exception (a bug): the worker
  does not die; the batch must be taken again from what is durable.

The hooks wrap the worker's classes in this process only, so the product has no test
code in its path. Without the variable the worker runs unchanged.
"""

import os
import signal
import sys
from collections.abc import Callable
from typing import Any

from faust.tables.base import Collection
from faust.transport.drivers import aiokafka as faust_aiokafka

from monitor.cli.main import main
from monitor.kafka.state import TableState

STEPS = ("batch", "changelog", "commit", "error")


def arm(spec: str) -> None:
    """Kill this process at ``spec`` (``STEP:N``)."""
    step, _, count = spec.partition(":")
    if step not in STEPS or not count.isdigit() or int(count) < 1:
        raise ValueError(f"DRIFTLINE_TEST_KILL={spec!r}: want one of {STEPS}, ':', N >= 1")
    left = int(count)

    def tick() -> None:
        nonlocal left
        left -= 1
        if left == 0 and step == "error":
            print(f"killable: raising at {spec}", file=sys.stderr, flush=True)
            raise RuntimeError(f"killable: {spec}")
        if left == 0:
            print(f"killable: SIGKILL at {spec}", file=sys.stderr, flush=True)
            os.kill(os.getpid(), signal.SIGKILL)

    if step in ("batch", "error"):
        # today's TableState applies in apply(); an older one applied and wrote in process()
        name = "apply" if hasattr(TableState, "apply") else "process"
        _after(TableState, name, tick)
    elif step == "changelog":
        _after(Collection, "_on_changelog_sent", tick)
    else:
        commit = faust_aiokafka.Consumer._commit

        async def _commit(self: Any, offsets: Any) -> bool:
            done: bool = await commit(self, offsets)
            if done:
                tick()
            return done

        faust_aiokafka.Consumer._commit = _commit  # type: ignore[method-assign]


def _after(cls: type, name: str, tick: Callable[[], None]) -> None:
    original = getattr(cls, name)

    def wrapped(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        tick()
        return result

    setattr(cls, name, wrapped)


if __name__ == "__main__":
    if os.environ.get("DRIFTLINE_TEST_TRACE"):
        sys.path.insert(0, "/tmp/repro")
        import trace  # noqa: F401
    spec = os.environ.get("DRIFTLINE_TEST_KILL")
    if spec:
        arm(spec)
    raise SystemExit(main(sys.argv[1:]))
