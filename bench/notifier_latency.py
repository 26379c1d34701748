"""The notifier's part of request -> email: from a record produced into Kafka to the SMTP sink
accepting its email, with nothing else loading the machine (no HTTP, no reset, no identity).

Brings the bench's system up (bench/system.py), produces valid `ResetRequested` records straight
into the topic, open loop at `--rate` per second (record *i* due at *i*/rate s), sealed with
the development link key the bench's notifier holds, and prints the latency percentiles per
round: sink acceptance time - the time the record was handed to the producer. Information for
docs/benchmarks.md (the notifier's share of the request -> email row), not a row of its own.

    uv run python -m bench.notifier_latency [--rounds 3] [--seconds 15] [--rate 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiokafka import AIOKafkaProducer
from notifier_service.core.config import DEV_LINK_SEAL_KEYS
from pwreset_contracts import ResetRequestedV1, cloudevents_kafka
from pwreset_contracts.sealed import KeyRing, reset_link_binding, seal

from bench.stats import percentile
from bench.system import System, running_system
from bench.waiting import eventually

TOPIC = ResetRequestedV1.topic


def reset_record(email: str, kid: str, key: bytes) -> cloudevents_kafka.KafkaRecord:
    now = datetime.now(UTC)
    request_id, account_id = uuid.uuid4(), uuid.uuid4()
    binding = reset_link_binding(request_id=request_id, account_id=account_id, recipient=email)
    event = ResetRequestedV1(
        request_id=request_id,
        account_id=account_id,
        email=email,
        requested_at=now,
        expires_at=now + timedelta(minutes=30),
        sealed_link=seal(
            f"http://127.0.0.1/reset-password?token={uuid.uuid4().hex}",
            key=key,
            kid=kid,
            associated_data=binding,
        ),
    )
    return cloudevents_kafka.encode(event, source="/bench/notifier-latency")


async def one_round(system: System, producer: AIOKafkaProducer, rate: float, seconds: float):
    kid, key = next(iter(KeyRing.parse(DEV_LINK_SEAL_KEYS).keys.items()))
    system.sink.read_new()  # earlier emails are not ours
    produced: dict[str, float] = {}
    acks = []
    count = int(rate * seconds)
    start = time.perf_counter()
    for i in range(count):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        record = reset_record(f"latency-{i}@example.com", kid, key)
        produced[dict(record.headers)["ce_id"].decode()] = time.time()
        acks.append(
            await producer.send(TOPIC, value=record.value, key=record.key, headers=record.headers)
        )
    await asyncio.gather(*acks)
    accepted: dict[str, float] = {}

    def all_accepted() -> bool:
        for mail in system.sink.read_new():
            accepted[mail.message_id.strip("<>").partition("@")[0]] = mail.at
        return all(event_id in accepted for event_id in produced)

    await eventually(all_accepted, within=120, what="every email")
    latencies = [(accepted[e] - at) * 1000 for e, at in produced.items()]
    return {f"p{round(q * 100)}_ms": round(percentile(latencies, q), 1) for q in (0.5, 0.9, 0.99)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--rate", type=float, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pwreset-notifier-latency-") as tmp:
        with running_system(Path(tmp)) as system:

            async def go() -> None:
                producer = AIOKafkaProducer(
                    **system.infra.kafka_options(), acks="all", enable_idempotence=True
                )
                await producer.start()
                try:
                    for n in range(args.rounds):
                        load = os.getloadavg()[0]
                        result = await one_round(system, producer, args.rate, args.seconds)
                        print(json.dumps({"round": n, "load_average": round(load, 2), **result}))
                finally:
                    await producer.stop()

            asyncio.run(go())
    return 0


if __name__ == "__main__":
    sys.exit(main())
