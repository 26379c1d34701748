"""Kafka clients configured the one way the design asks for (acks=all, idempotence on)."""

import asyncio
import contextlib
from typing import Any

from aiokafka import AIOKafkaProducer


def idempotent_producer(bootstrap_servers: str, **client_options: Any) -> AIOKafkaProducer:
    """A producer whose retries never duplicate or reorder records within a partition.

    `request_timeout_ms` bounds how long a send waits for an unreachable broker before its future
    fails (aiokafka expires queued batches after it), so callers learn of an outage in seconds.
    """
    options: dict[str, Any] = {
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 0,
        "request_timeout_ms": 10_000,
        **client_options,
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
