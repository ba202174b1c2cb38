"""Where the Kafka engine changes Faust and aiokafka through their private parts.

Every place where driftline subclasses a Faust or aiokafka class, replaces one of their
attributes or reads a private name (``_x``) of faust, aiokafka or kafka-python is a
module here, one patch each, and nowhere else in ``monitor/`` and ``producers/``:

- :mod:`~monitor.kafka.patches.consumer`: Faust's consumer, with a short fetch wait,
  the first messages of a partition nobody committed, and driftline's own commits;
- :mod:`~monitor.kafka.patches.producer`: Faust's producer, idempotent;
- :mod:`~monitor.kafka.patches.table`: a Faust table written to a partition the writer
  names, and whose changelog writes can be awaited;
- :mod:`~monitor.kafka.patches.undecodable`: aiokafka's fetched records, a record batch
  that does not decode turned into one placeholder record;
- :mod:`~monitor.kafka.patches.pacing`: aiokafka's metadata retries, paced.

Each module's docstring says what Faust or aiokafka does, why driftline changes it,
which private names it relies on, the versions it was checked with and how to drop it.
The pins in ``pyproject.toml`` (``faust-streaming>=0.15.3,<0.16``,
``aiokafka>=0.14,<0.15``) hold the versions; before moving them, run
``pytest tests/unit/patches``: a test there fails, naming the patch and what to look at,
if an upgrade removes or changes what a patch relies on.
"""
