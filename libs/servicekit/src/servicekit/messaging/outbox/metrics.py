"""Prometheus metrics of the outbox relay: backlog, its age, events published
(docs/operations.md)."""

from prometheus_client import Counter, Gauge, Histogram

OUTBOX_BACKLOG = Gauge("outbox_backlog_rows", "Outbox rows not yet published to Kafka")
OUTBOX_OLDEST_AGE = Gauge(
    "outbox_oldest_unpublished_age_seconds", "Age of the oldest unpublished outbox row"
)
EVENTS_PUBLISHED = Counter(
    "outbox_events_published_total", "Outbox records acknowledged by Kafka", ["topic"]
)
PUBLISH_FAILURES = Counter(
    "outbox_publish_failures_total", "Relay rounds that failed (Kafka or database away)"
)
PUBLISH_SECONDS = Histogram(
    "outbox_publish_batch_seconds",
    "From claim to the last Kafka ack of one batch",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
