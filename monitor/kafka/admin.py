"""Create driftline's topics with the configured partitions and replication."""

from monitor.settings import KafkaSettings
from schemas import topics

__all__ = ["ensure_topics"]


def ensure_topics(settings: KafkaSettings) -> list[str]:
    """Create every driftline topic that does not exist yet; return those created.

    Topics that exist are left as they are (Kafka cannot shrink partitions). Creating
    them before the workers start keeps predictions, labels and metrics co-partitioned
    by model, so one worker sees all of a model's events. Workers started together
    race to create them: a topic another one created meanwhile is not an error.
    """
    from kafka.admin import KafkaAdminClient
    from kafka.errors import TopicAlreadyExistsError, for_code

    admin = KafkaAdminClient(**settings.client_config())
    try:
        existing = set(admin.list_topics())
        missing = [
            name + settings.topic_suffix
            for name in topics.ALL_TOPICS
            if name + settings.topic_suffix not in existing
        ]
        if not missing:
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
        return sorted(created, key=missing.index)
    finally:
        admin.close()
