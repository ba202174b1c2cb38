"""Create driftline's topics with the configured partitions and replication."""

from monitor.settings import KafkaSettings
from schemas import topics

__all__ = ["ensure_topics"]


def ensure_topics(settings: KafkaSettings) -> list[str]:
    """Create every driftline topic that does not exist yet; return those created.

    Topics that exist are left as they are (Kafka cannot shrink partitions). Creating
    them before the workers start keeps predictions, labels and metrics co-partitioned
    by model, so one worker sees all of a model's events.
    """
    from kafka.admin import KafkaAdminClient, NewTopic

    admin = KafkaAdminClient(**settings.client_config())
    try:
        existing = set(admin.list_topics())
        missing = [
            name + settings.topic_suffix
            for name in topics.ALL_TOPICS
            if name + settings.topic_suffix not in existing
        ]
        if missing:
            admin.create_topics(
                [NewTopic(name, settings.partitions, settings.replication) for name in missing]
            )
        return missing
    finally:
        admin.close()
