"""Entry point: ``python -m bench replay [...]``, ``profile``, ``kafka``, ``takeover``,
``peers [...]``, ``cardinality [...]`` or ``detection [...]``."""

import sys

from bench import cardinality, detection, kafka, peers, profile, replay, takeover

COMMANDS = {
    "replay": replay.main,
    "profile": profile.main,
    "kafka": kafka.main,
    "takeover": takeover.main,
    "peers": peers.main,
    "cardinality": cardinality.main,
    "detection": detection.main,
}


def main(argv: list[str]) -> int:
    """Dispatch to a benchmark's own ``main``."""
    if not argv or argv[0] not in COMMANDS:
        names = " | ".join(COMMANDS)
        print(f"usage: python -m bench {{{names}}} [--help]", file=sys.stderr)
        return 2
    return COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
