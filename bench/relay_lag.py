"""Outbox relay lag (commit -> Kafka ack) beside one acked aiokafka send on loopback.

The relay is the service's own class (servicekit.messaging.outbox.relay.OutboxRelay, same settings
as the reset service's defaults), run in this process on a database of its own so that the bench can
see both ends: the writer notes the time its transaction's COMMIT returned, and the relay's
producer notes when each record's ack resolved its future. Rows are written one transaction
each, open-loop at a fixed rate, like reset requests arriving.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from pwreset_contracts.cloudevents_kafka import KafkaRecord
from servicekit.messaging.kafka import idempotent_producer
from servicekit.messaging.outbox.enqueue import enqueue
from servicekit.messaging.outbox.relay import OutboxRelay
from servicekit.messaging.outbox.schema import OUTBOX_TABLE_V1

from bench.stats import percentile
from bench.waiting import eventually

TOPIC = "bench.outbox-lag.v1"
# About the size of a ResetRequested record (CloudEvent headers + JSON with a sealed link).
VALUE = b'{"data": "' + b"x" * 600 + b'"}'
HEADERS = [
    ("ce_specversion", b"1.0"),
    ("ce_type", b"bench.lag"),
    ("ce_source", b"/bench"),
    ("content-type", b"application/json"),
]


class TimedRelay(OutboxRelay):
    """The real relay; its producer additionally notes when each record's ack arrived."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.acked_at: dict[bytes, float] = {}

    async def _ensure_producer(self) -> AIOKafkaProducer:
        producer = await super()._ensure_producer()
        if not getattr(producer, "bench_timed", False):
            send = producer.send

            async def timed_send(topic: str, *args: Any, key: bytes, **kwargs: Any) -> Any:
                future = await send(topic, *args, key=key, **kwargs)
                future.add_done_callback(
                    lambda f: (
                        f.cancelled() or f.exception() or self.acked_at.setdefault(key, time.time())
                    )
                )
                return future

            producer.send = timed_send  # type: ignore[method-assign]
            producer.bench_timed = True  # type: ignore[attr-defined]
        return producer


async def prepare(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        exists = await conn.fetchval("SELECT to_regclass('outbox') IS NOT NULL")
        if not exists:
            await conn.execute(OUTBOX_TABLE_V1)
    finally:
        await conn.close()


async def relay_lag(
    dsn: str, bootstrap: str, *, rate: float, count: int, kafka_options: dict[str, Any]
) -> list[float]:
    """Lags in ms of `count` rows written at `rate` per second."""
    await prepare(dsn)
    relay_pool = await asyncpg.create_pool(dsn, min_size=1, max_size=5)
    writer_pool = await asyncpg.create_pool(dsn, min_size=2, max_size=10)
    # batch 100, poll 1 s: reset's defaults; TLS and SASL as the services connect
    relay = TimedRelay(relay_pool, dsn, bootstrap, kafka_options=kafka_options)
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop))
    committed: dict[bytes, float] = {}
    try:
        await eventually(lambda: relay.kafka_connected, within=30, what="relay's Kafka producer")
        await asyncio.sleep(0.5)  # the listener's first wake-up

        async def write(_: int) -> None:
            key = uuid.uuid4().bytes
            async with writer_pool.acquire() as conn:
                async with conn.transaction():
                    await enqueue(conn, uuid.uuid4(), KafkaRecord(TOPIC, key, VALUE, HEADERS))
                committed[key] = time.time()

        start = time.perf_counter()
        tasks = []
        for i in range(count):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(write(i)))
        await asyncio.gather(*tasks)
        await eventually(
            lambda: len(relay.acked_at.keys() & committed.keys()) == count,
            within=30,
            what="every outbox row acknowledged by Kafka",
        )
    finally:
        stop.set()
        await asyncio.wait_for(running, 30)
        await relay_pool.close()
        await writer_pool.close()
    return [(relay.acked_at[key] - at) * 1000 for key, at in committed.items()]


async def acked_send(bootstrap: str, *, count: int, kafka_options: dict[str, Any]) -> list[float]:
    """The reference: one send at a time on an idempotent acks=all producer, ms until acked."""
    producer = idempotent_producer(bootstrap, **kafka_options)
    await producer.start()
    try:
        for _ in range(20):  # warm-up: metadata, connections
            await producer.send_and_wait(TOPIC, VALUE, key=uuid.uuid4().bytes, headers=HEADERS)
        latencies = []
        for _ in range(count):
            started = time.perf_counter()
            await producer.send_and_wait(TOPIC, VALUE, key=uuid.uuid4().bytes, headers=HEADERS)
            latencies.append((time.perf_counter() - started) * 1000)
    finally:
        await producer.stop()
    return latencies


def summary(latencies: list[float]) -> dict[str, float]:
    return {"p50": percentile(latencies, 0.5), "p99": percentile(latencies, 0.99)}
