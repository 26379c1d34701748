"""Prometheus metrics of delivery (docs/operations.md): emails sent, failed and
dead-lettered, consumer lag, SMTP latency; served by servicekit's /metrics."""

from prometheus_client import Counter, Gauge, Histogram

EMAILS_SENT = Counter("notifier_emails_sent_total", "Emails the SMTP server accepted")
SMTP_FAILURES = Counter(
    "notifier_smtp_failures_total", "SMTP sends that failed, by kind", ["kind"]
)  # kind: transient (retried) | permanent (dead-lettered)
SMTP_SECONDS = Histogram(
    "notifier_smtp_send_seconds",
    "One SMTP send, connection reuse included",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
DEAD_LETTERS = Counter("notifier_dead_letters_total", "Records copied to the dead-letter topic")
UNBOUND_SEALS = Counter(
    "notifier_unbound_seals_total",
    "Records whose sealed link did not open under their own id, account id and recipient "
    "(forged or altered records, or an unknown key): never mailed, dead-lettered",
    ["type"],
)
INTERRUPTED_RESENDS = Counter(
    "notifier_interrupted_resends_total",
    "Events sent again because an earlier attempt died between SMTP accept and ledger write",
)
PAUSED = Gauge("notifier_deliveries_paused", "1 while consumption is paused for a retry")
CONSUMER_LAG = Gauge(
    "notifier_consumer_lag_records", "Records behind the partition's end", ["topic", "partition"]
)
EVENT_TO_EMAIL = Histogram(
    "notifier_event_to_email_seconds",
    "From the event's time (ce_time: when the request or change happened) to the SMTP server "
    "accepting its email, by event type",
    ["type"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800),
)
