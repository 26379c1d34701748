"""Every producer the platform makes (outbox relay, dead letters) waits for all in-sync replicas
and is idempotent: what the Kafka cluster fault tests (tests/faults/test_kafka_cluster.py) rely
on for 0 lost, 0 duplicated when a broker dies."""

import pytest
from servicekit.messaging.kafka import idempotent_producer


async def test_the_producer_waits_for_every_in_sync_replica_and_is_idempotent() -> None:
    producer = idempotent_producer("127.0.0.1:9", request_timeout_ms=5000)
    try:
        assert producer._sender._acks == -1  # acks=all
        assert producer._txn_manager is not None  # idempotence: producer id and sequences
    finally:
        await producer.stop()  # never started: nothing to flush


@pytest.mark.parametrize(
    "weaker", [{"acks": 1}, {"acks": 0}, {"enable_idempotence": False}, {"acks": "all"}]
)
async def test_client_options_cannot_weaken_it(weaker: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="fixed"):
        idempotent_producer("127.0.0.1:9", **weaker)
