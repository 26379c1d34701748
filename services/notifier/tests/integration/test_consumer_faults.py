"""The notifier's delivery machinery in one process against real Kafka, PostgreSQL and SMTP:
pause while SMTP refuses, dead letters for poison and permanent failures, one sender per event."""

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from notifier_service.adapters.dead_letter_topic import DeadLetterCopies
from notifier_service.adapters.deliveries_ledger import DeliveriesLedger
from notifier_service.adapters.smtp_sender import SmtpSender
from notifier_service.bootstrap import event_consumer
from notifier_service.domain.composition import EmailComposer
from notifier_service.service_layer.deliver_email import EmailDelivery
from pwreset_contracts import ResetRequestedV1, cloudevents_kafka
from pwreset_contracts.dead_letters import read_dead_letter
from pwreset_contracts.sealed import reset_link_binding, seal
from servicekit.messaging.consumer import DeadLetterProducer

pytestmark = pytest.mark.integration
KEY = b"n" * 32


class Stack:
    """One notifier's delivery machinery, wired as bootstrap.py wires it."""

    def __init__(self, infra, pool: asyncpg.Pool, topic: str, dlq: str) -> None:
        self.ledger = DeliveriesLedger(pool)
        self.sender = SmtpSender(
            infra.smtp_host,
            infra.smtp_port,
            security="none",
            username=None,
            password=None,
            timeout=5,
        )
        self.dead_letters = DeadLetterCopies(
            DeadLetterProducer(
                infra.kafka_bootstrap, dlq, kafka_options=infra.kafka_security_options()
            )
        )
        self.delivery = EmailDelivery(
            self.ledger,
            self.sender,
            self.dead_letters,
            EmailComposer(
                link_keys={"k1": KEY}, notice_keys={}, mail_from="Reset <no-reply@example.com>"
            ),
        )
        self.consumer, self.records = event_consumer(
            self.delivery,
            bootstrap_servers=infra.kafka_bootstrap,
            group_id=f"it-{uuid.uuid4()}",
            topics=[topic],
            max_retry_backoff_seconds=0.5,
            concurrency=1,
            # Short, so a pause that stopped polling would cost the group membership here.
            kafka_options={"max_poll_interval_ms": 2_000, **infra.kafka_security_options()},
        )
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> "Stack":
        self.task = asyncio.create_task(self.consumer.run(self.stop))
        return self

    async def __aexit__(self, *_: object) -> None:
        self.stop.set()
        assert self.task is not None
        await asyncio.wait_for(self.task, 30)
        await self.dead_letters.close()
        await self.sender.close()


def reset_record(email: str, topic: str, *, kid: str = "k1") -> tuple[str, list, bytes, bytes]:
    now = datetime.now(UTC)
    request_id = uuid.uuid4()
    account_id = uuid.uuid4()
    event = ResetRequestedV1(
        request_id=request_id,
        account_id=account_id,
        email=email,
        requested_at=now,
        expires_at=now + timedelta(minutes=30),
        sealed_link=seal(
            f"http://127.0.0.1/reset-password?token={uuid.uuid4().hex}",
            key=KEY,
            kid=kid,
            associated_data=reset_link_binding(
                request_id=request_id, account_id=account_id, recipient=email
            ),
        ),
    )
    event_id = str(uuid.uuid4())
    record = cloudevents_kafka.encode(event, source="/it", event_id=event_id)
    return event_id, record.headers, record.key, record.value


async def produce(infra, topic: str, records: list[tuple[list, bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(**infra.kafka_options(), acks="all")
    await producer.start()
    try:
        for headers, key, value in records:
            await producer.send_and_wait(topic, value=value, key=key, headers=headers)
    finally:
        await producer.stop()


def mails_to(infra, prefix: str) -> list[str]:
    return [str(m["To"]) for m in infra.mailbox.messages() if str(m["To"]).startswith(prefix)]


async def until(condition: Callable[[], Awaitable[bool] | bool], within: float) -> None:
    async with asyncio.timeout(within):
        while True:
            result = condition()
            if result if isinstance(result, bool) else await result:
                return
            await asyncio.sleep(0.1)


def topics(infra) -> tuple[str, str]:
    topic, dlq = f"it-events-{uuid.uuid4().hex[:8]}", f"it-dlq-{uuid.uuid4().hex[:8]}"
    infra.create_topics([topic, dlq], partitions=2)
    return topic, dlq


async def test_smtp_tempfail_pauses_consumption_without_a_rebalance_then_sends_each_once(
    infra, pool, smtp_mode
) -> None:
    topic, dlq = topics(infra)
    prefix = f"pause-{uuid.uuid4().hex[:6]}-"
    addresses = [f"{prefix}{n}@example.com" for n in range(6)]
    smtp_mode("tempfail")
    await produce(infra, topic, [reset_record(a, topic)[1:] for a in addresses])
    async with Stack(infra, pool, topic, dlq) as stack:
        await until(lambda: stack.consumer.paused_since is not None, within=30)
        await asyncio.sleep(5)  # several retries, and longer than max_poll_interval_ms
        assert mails_to(infra, prefix) == []
        assert stack.consumer.retries_total >= 3
        with pytest.raises(ConnectionError, match="paused"):
            await stack.consumer.check_not_paused()
        smtp_mode("accept")
        await until(lambda: len(mails_to(infra, prefix)) >= len(addresses), within=20)
        await until(lambda: stack.consumer.paused_since is None, within=5)
        await asyncio.sleep(1)  # anything extra would show up now
        assert stack.consumer.revocations_total == 0  # never revoked: no rebalance while paused
    assert sorted(mails_to(infra, prefix)) == sorted(addresses)


async def test_poison_and_undeliverable_records_are_dead_lettered_and_the_rest_goes_out(
    infra, pool
) -> None:
    topic, dlq = topics(infra)
    prefix = f"poison-{uuid.uuid4().hex[:6]}-"
    before = reset_record(f"{prefix}before@example.com", topic)
    after = reset_record(f"{prefix}after@example.com", topic)
    undeliverable = reset_record(f"{prefix}badkey@example.com", topic, kid="unknown-key")
    key = before[2]  # one key: one partition, so "after" really is behind the poison
    garbage = ([*before[1][:1], ("ce_id", b"x"), ("ce_source", b"/it")], key, b"\xff not json")
    unknown = (
        [
            ("ce_specversion", b"1.0"),
            ("ce_id", b"y"),
            ("ce_source", b"/it"),
            ("ce_type", b"com.example.unknown.v1"),
        ],
        key,
        b"{}",
    )
    await produce(
        infra,
        topic,
        [
            before[1:],
            garbage,
            unknown,
            (undeliverable[1], key, undeliverable[3]),
            (after[1], key, after[3]),
        ],
    )
    async with Stack(infra, pool, topic, dlq) as stack:
        await until(lambda: len(mails_to(infra, prefix)) >= 2, within=30)
        await until(lambda: stack.records.dead_lettered_total >= 3, within=10)

    assert sorted(mails_to(infra, prefix)) == [
        f"{prefix}after@example.com",
        f"{prefix}before@example.com",
    ]
    letters = await read_topic(infra, dlq, 3)
    reasons = [read_dead_letter(headers).reason for headers, _, _ in letters]
    assert "invalid record" in reasons[0] and "unknown event type" in reasons[1]
    assert "UnboundSeal: no key with id" in reasons[2]
    assert [value for _, _, value in letters][:2] == [b"\xff not json", b"{}"]  # kept as it was
    assert all(k == key for _, k, _ in letters)
    origin = read_dead_letter(letters[0][0])
    assert (origin.origin_topic, origin.origin_offset) == (topic, "1")
    assert ("ce_source", b"/it") in letters[0][0]  # the original headers travel along
    rows = await pool.fetchval("SELECT count(*) FROM dead_letters WHERE origin_topic = $1", topic)
    assert rows == 3


async def test_a_5xx_reply_dead_letters_the_event_and_the_next_one_is_sent(
    infra, pool, smtp_mode
) -> None:
    topic, dlq = topics(infra)
    prefix = f"reject-{uuid.uuid4().hex[:6]}-"
    rejected = reset_record(f"{prefix}rejected@example.com", topic)
    smtp_mode("reject")
    await produce(infra, topic, [rejected[1:]])
    async with Stack(infra, pool, topic, dlq) as stack:
        await until(lambda: stack.records.dead_lettered_total >= 1, within=30)
        smtp_mode("accept")
        accepted = reset_record(f"{prefix}accepted@example.com", topic)
        await produce(infra, topic, [accepted[1:]])
        await until(lambda: len(mails_to(infra, prefix)) >= 1, within=30)
    assert mails_to(infra, prefix) == [f"{prefix}accepted@example.com"]
    ((headers, _, _),) = await read_topic(infra, dlq, 1)
    assert read_dead_letter(headers).reason.startswith("PermanentSmtpError: 550")
    status = await pool.fetchval(  # keyed by the CloudEvent id and the record's digest
        "SELECT status FROM deliveries WHERE event_id LIKE $1 || '.%'", rejected[0]
    )
    assert status == "dead_lettered"


async def read_topic(infra, topic: str, count: int) -> list[tuple[list, bytes, bytes]]:
    consumer = AIOKafkaConsumer(
        topic,
        **infra.kafka_options(),
        group_id=f"it-{uuid.uuid4()}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list = []
    try:
        async with asyncio.timeout(20):
            while len(found) < count:
                for records in (await consumer.getmany(timeout_ms=300)).values():
                    found.extend((list(r.headers), r.key, r.value) for r in records)
    finally:
        await consumer.stop()
    return sorted(found, key=lambda f: int(read_dead_letter(f[0]).origin_offset))
