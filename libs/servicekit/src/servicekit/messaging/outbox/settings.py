"""One settings model for every publisher's outbox relay (``OUTBOX_*`` variables).

The services' ``Settings`` inherit it beside ``KafkaSettings``, so reset and identity tune and
run their relays the same way; ``outbox_relay`` builds the relay from both.
"""

import asyncpg
from pydantic import Field
from pydantic_settings import BaseSettings

from servicekit.messaging.kafka_settings import KafkaSettings
from servicekit.messaging.outbox.relay import OutboxRelay


class OutboxSettings(BaseSettings):
    # Off for a process that should only serve HTTP while another replica publishes.
    outbox_relay_enabled: bool = True
    # Fallback poll when no NOTIFY arrives (a lost notification only delays a row this long).
    outbox_poll_interval_seconds: float = Field(default=1.0, gt=0, le=60)
    outbox_batch_size: int = Field(default=100, ge=1, le=10_000)
    # Published rows older than this are pruned.
    outbox_retention_seconds: int = Field(default=86_400, ge=60)
    # How long a relay owns the rows it claimed; another relay takes them over after it.
    outbox_lease_seconds: float = Field(default=30.0, ge=2, le=600)


def outbox_relay(
    pool: asyncpg.Pool, dsn: str, kafka: KafkaSettings, outbox: OutboxSettings
) -> OutboxRelay:
    return OutboxRelay(
        pool,
        dsn,
        kafka.kafka_bootstrap_servers,
        kafka_options=kafka.kafka.security_options(),
        batch_size=outbox.outbox_batch_size,
        poll_interval=outbox.outbox_poll_interval_seconds,
        retention_seconds=outbox.outbox_retention_seconds,
        lease_seconds=outbox.outbox_lease_seconds,
    )
