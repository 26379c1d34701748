"""Several partitions delivered side by side (AtLeastOnceConsumer(concurrency=...)): every
event once, each account's events in the order they were produced, and the pause on SMTP
failures still holds with several deliveries in flight. Real Kafka, PostgreSQL and SMTP
capture."""

import asyncio
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from notifier_service.adapters.dead_letter_topic import DeadLetterCopies
from notifier_service.adapters.deliveries_ledger import DeliveriesLedger
from notifier_service.adapters.smtp_sender import SmtpSender
from notifier_service.bootstrap import event_consumer
from notifier_service.domain.composition import EmailComposer
from notifier_service.domain.mime import OutgoingEmail
from notifier_service.domain.records import cloudevent_id
from notifier_service.service_layer.deliver_email import EmailDelivery
from pwreset_contracts import ResetRequestedV1, cloudevents_kafka
from pwreset_contracts.sealed import reset_link_binding, seal
from servicekit.messaging.consumer import AtLeastOnceConsumer, DeadLetterProducer

pytestmark = pytest.mark.integration
KEY = b"c" * 32


class Watched:
    """The real sender, noting how many sends run at once and in which order per account."""

    def __init__(self, sender: SmtpSender) -> None:
        self._sender = sender
        self.running = 0
        self.most_at_once = 0
        self.sent: list[str] = []  # event ids, in the order the server took their emails

    async def send(self, email: OutgoingEmail) -> None:
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            await self._sender.send(email)
        finally:
            self.running -= 1
        self.sent.append(cloudevent_id(email.message_id_local_part))

    def order_of(self, event_ids: list[str]) -> list[str]:
        return [event_id for event_id in self.sent if event_id in event_ids]

    def accepted(self, message_id_local_part: str) -> bool:
        return self._sender.accepted(message_id_local_part)


def reset_record(email: str, account_id: uuid.UUID) -> tuple[str, cloudevents_kafka.KafkaRecord]:
    now = datetime.now(UTC)
    request_id = uuid.uuid4()
    event = ResetRequestedV1(
        request_id=request_id,
        account_id=account_id,
        email=email,
        requested_at=now,
        expires_at=now + timedelta(minutes=30),
        sealed_link=seal(
            f"http://127.0.0.1/reset-password?token={uuid.uuid4().hex}",
            key=KEY,
            kid="k1",
            associated_data=reset_link_binding(
                request_id=request_id, account_id=account_id, recipient=email
            ),
        ),
    )
    event_id = str(uuid.uuid4())
    return event_id, cloudevents_kafka.encode(event, source="/it", event_id=event_id)


async def produce(infra, topic: str, records: list[cloudevents_kafka.KafkaRecord]) -> None:
    producer = AIOKafkaProducer(**infra.kafka_options(), acks="all")
    await producer.start()
    try:
        for r in records:
            await producer.send_and_wait(topic, value=r.value, key=r.key, headers=r.headers)
    finally:
        await producer.stop()


def mails_to(infra, prefix: str) -> list[str]:
    return [str(m["To"]) for m in infra.mailbox.messages() if str(m["To"]).startswith(prefix)]


async def until(condition, within: float) -> None:
    async with asyncio.timeout(within):
        while True:
            if condition():
                return
            await asyncio.sleep(0.1)


async def run_consumer(
    infra, pool: asyncpg.Pool, topic: str, watched_box: list[Watched]
) -> tuple[AtLeastOnceConsumer, DeadLetterCopies, SmtpSender]:
    ledger = DeliveriesLedger(pool)
    sender = SmtpSender(
        infra.smtp_host, infra.smtp_port, security="none", username=None, password=None, timeout=5
    )
    dlq = f"it-dlq-{uuid.uuid4().hex[:8]}"
    infra.create_topics([dlq])
    dead_letters = DeadLetterCopies(
        DeadLetterProducer(infra.kafka_bootstrap, dlq, kafka_options=infra.kafka_security_options())
    )
    watched = Watched(sender)
    watched_box.append(watched)
    delivery = EmailDelivery(
        ledger,
        watched,
        dead_letters,
        EmailComposer(link_keys={"k1": KEY}, notice_keys={}, mail_from="R <r@example.com>"),
    )
    consumer, _ = event_consumer(
        delivery,
        bootstrap_servers=infra.kafka_bootstrap,
        group_id=f"it-{uuid.uuid4()}",
        topics=[topic],
        max_retry_backoff_seconds=0.5,
        concurrency=3,
        kafka_options={"max_poll_interval_ms": 2_000, **infra.kafka_security_options()},
    )
    return consumer, dead_letters, sender


async def test_partitions_are_delivered_side_by_side_each_account_in_order(infra, pool) -> None:
    topic = f"it-concurrent-{uuid.uuid4().hex[:8]}"
    infra.create_topics([topic], partitions=3)
    prefix = f"conc-{uuid.uuid4().hex[:6]}-"
    accounts = [uuid.uuid4() for _ in range(6)]
    produced: defaultdict[uuid.UUID, list[str]] = defaultdict(list)
    records = []
    for n in range(8):  # interleaved, so every partition has a queue of its own
        for a, account in enumerate(accounts):
            event_id, record = reset_record(f"{prefix}{a}-{n}@example.com", account)
            produced[account].append(event_id)
            records.append(record)
    await produce(infra, topic, records)
    box: list[Watched] = []
    consumer, dead_letters, sender = await run_consumer(infra, pool, topic, box)
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        await until(lambda: len(mails_to(infra, prefix)) >= len(records), within=60)
        await asyncio.sleep(1)  # a duplicate would arrive now
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        await dead_letters.close()
        await sender.close()
    mails = mails_to(infra, prefix)
    assert len(mails) == len(set(mails)) == len(records)
    for events in produced.values():  # per account: the order of production
        assert box[0].order_of(events) == events
    assert box[0].most_at_once >= 2  # sends did overlap


async def test_smtp_tempfail_pauses_every_partition_then_each_email_goes_out_once(
    infra, pool, smtp_mode
) -> None:
    topic = f"it-concurrent-{uuid.uuid4().hex[:8]}"
    infra.create_topics([topic], partitions=3)
    prefix = f"conc-pause-{uuid.uuid4().hex[:6]}-"
    records = [reset_record(f"{prefix}{n}@example.com", uuid.uuid4())[1] for n in range(9)]
    smtp_mode("tempfail")
    await produce(infra, topic, records)
    box: list[Watched] = []
    consumer, dead_letters, sender = await run_consumer(infra, pool, topic, box)
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        await until(lambda: consumer.paused_since is not None, within=30)
        await asyncio.sleep(3)  # several retries, longer than max_poll_interval_ms
        assert mails_to(infra, prefix) == []
        assert consumer.retries_total >= 3
        smtp_mode("accept")
        await until(lambda: len(mails_to(infra, prefix)) >= len(records), within=30)
        # Consumption resumed for good: records produced now go out too.
        later = [reset_record(f"{prefix}{n}@example.com", uuid.uuid4())[1] for n in range(9, 12)]
        await produce(infra, topic, later)
        await until(lambda: len(mails_to(infra, prefix)) >= 12, within=30)
        await asyncio.sleep(1)
        assert consumer.revocations_total == 0  # no rebalance while paused
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        await dead_letters.close()
        await sender.close()
    assert sorted(mails_to(infra, prefix)) == sorted(f"{prefix}{n}@example.com" for n in range(12))
