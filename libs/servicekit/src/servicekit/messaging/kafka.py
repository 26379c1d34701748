"""Kafka clients configured the one way the design asks for (acks=all, idempotence on)."""

import asyncio
import contextlib
from typing import Any

from aiokafka import AIOKafkaProducer

# Every write waits for all in-sync replicas (the topics' min.insync.replicas is 2), and the
# broker drops a retried batch it already has, so retries neither lose nor repeat a record.
DURABILITY: dict[str, Any] = {"acks": "all", "enable_idempotence": True}


def idempotent_producer(bootstrap_servers: str, **client_options: Any) -> AIOKafkaProducer:
    """A producer whose retries never duplicate or reorder records within a partition.

    `request_timeout_ms` bounds how long a send waits for an unreachable broker before its future
    fails (aiokafka expires queued batches after it), so callers learn of an outage in seconds.
    """
    overridden = DURABILITY.keys() & client_options.keys()
    if overridden:
        # A record acknowledged by the leader alone is lost when that broker dies before a
        # follower copied it (docs/delivery.md, "Kafka cluster faults"): never configurable.
        raise ValueError(f"the producer's {sorted(overridden)} are fixed: acks=all, idempotence")
    options: dict[str, Any] = {
        "linger_ms": 0,
        "request_timeout_ms": 10_000,
        **client_options,
        **DURABILITY,
    }
    return AIOKafkaProducer(bootstrap_servers=bootstrap_servers, **options)


async def start_idempotent_producer(
    bootstrap_servers: str, **client_options: Any
) -> AIOKafkaProducer:
    """An idempotent producer, started within 15 s; on failure it is stopped, never leaked."""
    producer = idempotent_producer(bootstrap_servers, **client_options)
    try:
        await asyncio.wait_for(producer.start(), 15)
    except BaseException:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(producer.stop(), 5)
        raise
    return producer


async def cluster_reachable(client: Any) -> None:
    """Raise unless a broker answers a metadata request now (readiness probes call this).

    `client` is an aiokafka producer's or consumer's `_client`: both keep their own connections,
    so this asks over the same path the real traffic takes.
    """
    await client.fetch_all_metadata()
