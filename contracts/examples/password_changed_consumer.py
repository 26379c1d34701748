"""Example consumer of ``identity.password-changed.v1``: copy it to start your own.

    pip install aiokafka pwreset-contracts
    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:59092 python password_changed_consumer.py

What it does, and why:

* Each record is a CloudEvent in Kafka binary mode; ``cloudevents_kafka.decode`` reads the
  ``ce_*`` headers and validates the JSON value against the PasswordChanged v1 model (the same
  contract as ``schemas/identity.password-changed.v1.json``). Unknown fields added by newer v1
  producers are kept, not rejected.
* A record that is not a valid event is logged and skipped: one bad record must not stop the
  whole partition. (Skipped records are not retried; dead-letter them if you need them.)
* At least once: offsets are committed only after ``handle`` returned for every record before
  them. If ``handle`` raises, nothing further is committed and the records come again after a
  restart, so ``handle`` must be idempotent: deduplicate on ``event.id`` (``ce_id``).
* The record key is the account id: the events of one account arrive in order.
* Log no email address and nothing from the sealed link (only its intended reader, the
  notifier, holds the key to open it).

For production add your TLS/SASL settings to ``AIOKafkaConsumer`` (``security_protocol``,
``sasl_mechanism``, ``ssl_context``, ...).
"""

import asyncio
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer
from pwreset_contracts import PasswordChangedV1
from pwreset_contracts.cloudevents_kafka import InvalidRecord, ReceivedEvent, decode

TOPIC = PasswordChangedV1.topic
log = logging.getLogger("password_changed_consumer")

Handler = Callable[[ReceivedEvent, PasswordChangedV1], Awaitable[None]]


async def consume(
    bootstrap_servers: str,
    group_id: str,
    handle: Handler,
    stop: asyncio.Event,
    **connection: Any,
) -> None:
    """The main loop: read, validate, handle, commit, until ``stop`` is set.

    ``connection``: your cluster's TLS and SASL settings, as aiokafka names them, e.g.
    ``security_protocol="SASL_SSL", ssl_context=ssl.create_default_context(cafile=CA),
    sasl_mechanism="SCRAM-SHA-512", sasl_plain_username=USER, sasl_plain_password=PASSWORD``
    (contracts/ONBOARDING.md says where they come from)."""
    consumer = AIOKafkaConsumer(
        TOPIC,
        bootstrap_servers=bootstrap_servers,
        **connection,
        group_id=group_id,
        enable_auto_commit=False,  # we commit after the work is done
        auto_offset_reset="earliest",  # a new group starts with what the topic still keeps
    )
    await consumer.start()
    try:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=500, max_records=100)
            for partition, records in batches.items():
                for record in records:
                    try:
                        event = decode(list(record.headers), record.value)
                    except InvalidRecord as exc:
                        log.warning(
                            "skipped an invalid record at partition %d offset %d: %s",
                            record.partition,
                            record.offset,
                            exc,
                        )
                        continue
                    if not isinstance(event.data, PasswordChangedV1):
                        log.warning("skipped an event of type %s", event.type)
                        continue
                    await handle(event, event.data)
                await consumer.commit({partition: records[-1].offset + 1})
    finally:
        await consumer.stop()


async def log_change(event: ReceivedEvent, change: PasswordChangedV1) -> None:
    """Replace with your own work (make it idempotent on ``event.id``)."""
    log.info(
        "password of account %s changed at %s (event %s, method %s)",
        change.account_id,
        change.changed_at.isoformat(),
        event.id,
        change.method,
    )


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:59092")
    group_id = os.environ.get("KAFKA_CONSUMER_GROUP", "password-changed-example")

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await consume(bootstrap, group_id, log_change, stop)

    asyncio.run(run())


if __name__ == "__main__":
    main()
