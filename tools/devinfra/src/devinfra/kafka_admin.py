"""Kafka administration through aiokafka (works for every provider)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from devinfra.blocking import run_blocking

if TYPE_CHECKING:
    from devinfra.kafka_security import KafkaSecurity

Options = Mapping[str, Any] | None


async def create_topics_async(
    bootstrap: str,
    names: Iterable[str],
    partitions: int = 3,
    retention_ms: int | None = None,
    options: Options = None,
    replication_factor: int = 1,
) -> None:
    """Create the topics that do not exist yet (replication factor 1: a single broker).
    `options`: TLS/SASL keyword arguments of a user allowed to (the local broker's admin)."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    from devinfra.topics import replicated_configs

    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=15000, **dict(options or {})
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())

        def configs(name: str) -> dict[str, str]:
            # The platform's own topics get their documented settings; others the broker's.
            if retention_ms is not None:
                return {"retention.ms": str(retention_ms)}
            return replicated_configs(name, replication_factor)

        missing = [
            NewTopic(
                name,
                num_partitions=partitions,
                replication_factor=replication_factor,
                topic_configs=configs(name),
            )
            for name in dict.fromkeys(names)
            if name not in existing
        ]
        if missing:
            response = await admin.create_topics(missing, timeout_ms=15000)
            # Error 36 = TOPIC_ALREADY_EXISTS: a concurrent creator won; that is fine.
            errors = [
                (entry[0], entry[1], entry[2] if len(entry) > 2 else "")
                for entry in response.topic_errors
                if entry[1] not in (0, 36)
            ]
            if errors:
                raise RuntimeError(f"create_topics failed: {errors}")
    finally:
        await admin.close()


def create_topics(
    bootstrap: str,
    names: Iterable[str],
    partitions: int = 3,
    retention_ms: int | None = None,
    options: Options = None,
    timeout: float = 60.0,
    replication_factor: int = 1,
) -> None:
    names = list(names)
    run_blocking(
        lambda: create_topics_async(
            bootstrap, names, partitions, retention_ms, options, replication_factor
        ),
        timeout,
    )


def create_acls(bootstrap: str, security: KafkaSecurity, timeout: float = 60.0) -> None:
    from devinfra.kafka_security import create_acls_async

    run_blocking(lambda: create_acls_async(bootstrap, security), timeout)


async def metadata_works_async(bootstrap: str, options: Options = None) -> bool:
    """True when a client can bootstrap and the broker serves cluster metadata."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=5000, **dict(options or {})
    )
    try:
        await admin.start()
        cluster = await admin.describe_cluster()
        return bool(cluster.get("brokers"))
    except Exception:  # not ready yet; the caller bounds the wait
        return False
    finally:
        await admin.close()


def metadata_works(bootstrap: str, options: Options = None) -> bool:
    try:
        return run_blocking(lambda: metadata_works_async(bootstrap, options), 15.0)
    except TimeoutError:
        return False
