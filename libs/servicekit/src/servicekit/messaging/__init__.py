"""Kafka conventions every service shares: one connection model, idempotent producers, the outbox,
the at-least-once consumer.

Public API:
- connection: ``KafkaSettings``, ``KafkaConnection`` (``kafka_settings``)
- producing: ``start_idempotent_producer``, ``cluster_reachable`` (``kafka``)
- the transactional outbox: ``enqueue`` (write with the business change), ``OutboxRelay``
  (publish, in order, at least once) in ``messaging.outbox``
- consuming at least once: ``AtLeastOnceConsumer`` (manual commits, pause and retry, rebalance
  handling) and ``DeadLetterProducer`` in ``messaging.consumer``
"""

from servicekit.messaging.kafka import cluster_reachable, start_idempotent_producer
from servicekit.messaging.kafka_settings import KafkaConnection, KafkaSettings

__all__ = [
    "KafkaConnection",
    "KafkaSettings",
    "cluster_reachable",
    "start_idempotent_producer",
]
