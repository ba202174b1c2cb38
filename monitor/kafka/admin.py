"""Create driftline's topics with the configured partitions and replication."""

import time

from monitor.errors import ConfigError
from monitor.settings import KafkaSettings
from schemas import topics

__all__ = ["by_model_topic", "ensure_topics", "internal_topics"]

_KINDS = ("predictions", "labels", "metrics")


def by_model_topic(settings: KafkaSettings, kind: str) -> str:
    """The internal topic where workers re-key ``kind`` events by model.

    >>> by_model_topic(KafkaSettings(app_id="driftline"), "labels")
    'driftline-labels-by-model'
    """
    return f"{settings.app_id}-{kind}-by-model{settings.topic_suffix}"


def internal_topics(settings: KafkaSettings) -> list[str]:
    """The workers' by-model topics: they need ``kafka.partitions`` partitions each,
    as many as the state table's changelog."""
    return [by_model_topic(settings, kind) for kind in _KINDS]


def ensure_topics(settings: KafkaSettings) -> list[str]:
    """Create every driftline topic that does not exist yet; return those created.

    Public topics that exist are left as they are (Kafka cannot shrink partitions),
    whatever their partitions: workers re-key their events by model. The internal
    by-model topics must have ``kafka.partitions`` partitions, like the state table's
    changelog; a :class:`ConfigError` says so if one has not. Workers started together
    race to create them: a topic another one created meanwhile is not an error.
    """
    from kafka.admin import KafkaAdminClient
    from kafka.errors import TopicAlreadyExistsError, for_code

    admin = KafkaAdminClient(**settings.kafka_python_options())
    try:
        existing = set(admin.list_topics())
        internal = internal_topics(settings)
        wanted = [name + settings.topic_suffix for name in topics.ALL_TOPICS] + internal
        missing = [name for name in wanted if name not in existing]
        if not missing:
            _check_partitions(admin, internal, settings)
            return []
        options = {
            "num_partitions": settings.partitions,
            "replication_factor": settings.replication,
        }
        result = admin.create_topics(
            {name: options for name in missing}, raise_errors=False, wait_for_metadata=False
        )
        created = []
        for topic in result["topics"]:
            error = for_code(topic["error_code"])
            if error is TopicAlreadyExistsError:
                continue
            if topic["error_code"]:
                raise error(topic.get("error_message") or topic["name"])
            created.append(topic["name"])
        _check_partitions(admin, [name for name in internal if name not in created], settings)
        return sorted(created, key=missing.index)
    finally:
        admin.close()


def _check_partitions(admin: object, names: list[str], settings: KafkaSettings) -> None:
    if not names:
        return
    deadline = time.monotonic() + 10.0
    described = admin.describe_topics(names)  # type: ignore[attr-defined]
    while any(not t["partitions"] for t in described) and time.monotonic() < deadline:
        time.sleep(0.2)  # a topic just created elsewhere: its metadata is on its way
        described = admin.describe_topics(names)  # type: ignore[attr-defined]
    for topic in described:
        count = len(topic["partitions"])
        if count != settings.partitions:
            raise ConfigError(
                f"internal topic {topic['name']} has {count} partitions but kafka.partitions "
                f"is {settings.partitions}: set kafka.partitions={count} (or delete the "
                f"{settings.app_id}-* topics of a deployment that holds no state you need)"
            )
