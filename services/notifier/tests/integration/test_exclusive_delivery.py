"""The ledger claim on real PostgreSQL and SMTP: one sender per event, across instances, and what
happens in the window between "SMTP accepted" and "ledger recorded"."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from notifier_service import metrics
from notifier_service.adapters.dead_letter_topic import DeadLetterCopies
from notifier_service.adapters.deliveries_ledger import DeliveriesLedger
from notifier_service.adapters.smtp_sender import SmtpSender
from notifier_service.domain.composition import EmailComposer
from notifier_service.domain.outcomes import AlreadyDelivered, Delivered, Retry
from notifier_service.service_layer.deliver_email import EmailDelivery
from pwreset_contracts import ResetRequestedV1, cloudevents_kafka
from pwreset_contracts.sealed import reset_link_binding, seal
from servicekit.messaging.consumer import DeadLetterProducer

pytestmark = pytest.mark.integration
KEY = b"n" * 32


class PoolThatFailsOnce:
    """The database goes away right after the SMTP server accepted (one failed 'sent' write)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self.failed = False

    def __getattr__(self, name: str) -> object:
        return getattr(self._pool, name)

    async def execute(self, query: str, *args: object) -> str:
        if "'sent'" in query and not self.failed:
            self.failed = True
            raise asyncpg.exceptions.ConnectionDoesNotExistError("connection lost")
        return await self._pool.execute(query, *args)


def interrupted_resends() -> float:
    return metrics.INTERRUPTED_RESENDS._value.get()


def instance(infra, ledger: DeliveriesLedger) -> tuple[EmailDelivery, SmtpSender]:
    sender = SmtpSender(
        infra.smtp_host, infra.smtp_port, security="none", username=None, password=None, timeout=5
    )
    delivery = EmailDelivery(
        ledger,
        sender,
        DeadLetterCopies(DeadLetterProducer(infra.kafka_bootstrap, "unused")),  # never started
        EmailComposer(link_keys={"k1": KEY}, notice_keys={}, mail_from="R <r@example.com>"),
    )
    return delivery, sender


def event_to(email: str) -> cloudevents_kafka.ReceivedEvent:
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
            "http://x/r",
            key=KEY,
            kid="k1",
            associated_data=reset_link_binding(
                request_id=request_id, account_id=account_id, recipient=email
            ),
        ),
    )
    record = cloudevents_kafka.encode(event, source="/it")
    return cloudevents_kafka.decode(record.headers, record.value)


def count_to(infra, email: str) -> int:
    return sum(1 for m in infra.mailbox.messages() if m["To"] == email)


async def test_two_instances_handed_the_same_event_at_once_send_one_email(infra, pool) -> None:
    email = f"twice-{uuid.uuid4().hex[:8]}@example.com"
    event = event_to(email)
    (first, s1), (second, s2) = (
        instance(infra, DeliveriesLedger(pool)),
        instance(infra, DeliveriesLedger(pool)),
    )
    try:
        outcomes = await asyncio.gather(first.deliver(event), second.deliver(event))
    finally:
        await s1.close()
        await s2.close()
    assert sorted(map(str, outcomes)) == sorted([str(Delivered()), str(AlreadyDelivered())])
    await infra.mailbox.wait_for(lambda m: m["To"] == email, timeout=10)
    await asyncio.sleep(0.5)
    assert count_to(infra, email) == 1
    assert (
        await pool.fetchval("SELECT status FROM deliveries WHERE event_id = $1", event.id) == "sent"
    )


async def test_a_ledger_write_lost_after_smtp_accepted_is_recorded_not_resent(infra, pool) -> None:
    email = f"dbgone-{uuid.uuid4().hex[:8]}@example.com"
    event = event_to(email)
    delivery, sender = instance(infra, DeliveriesLedger(PoolThatFailsOnce(pool)))  # type: ignore[arg-type]
    before = interrupted_resends()
    try:
        assert await delivery.deliver(event) == Retry(
            "ConnectionDoesNotExistError: connection lost"
        )
        # The retry records, and sends nothing.
        assert await delivery.deliver(event) == AlreadyDelivered(recorded_now=True)
    finally:
        await sender.close()
    await infra.mailbox.wait_for(lambda m: m["To"] == email, timeout=10)
    assert count_to(infra, email) == 1
    status = await pool.fetchval("SELECT status FROM deliveries WHERE event_id = $1", event.id)
    assert status == "sent"
    assert interrupted_resends() == before  # this process knew it had sent it


async def test_an_attempt_interrupted_after_its_claim_is_resent_and_counted(infra, pool) -> None:
    email = f"crashed-{uuid.uuid4().hex[:8]}@example.com"
    event = event_to(email)
    # What a notifier killed between its claim and its ledger write leaves behind.
    await pool.execute(
        "INSERT INTO deliveries (event_id, event_type, status) VALUES ($1, $2, 'sending')",
        event.id,
        event.type,
    )
    delivery, sender = instance(infra, DeliveriesLedger(pool))
    before = interrupted_resends()
    try:
        assert await delivery.deliver(event) == Delivered(resent_after_interruption=True)
        assert await delivery.deliver(event) == AlreadyDelivered()  # and once sent, never again
    finally:
        await sender.close()
    assert interrupted_resends() == before + 1
    await infra.mailbox.wait_for(lambda m: m["To"] == email, timeout=10)
    assert count_to(infra, email) == 1


async def test_24_overlapping_batches_from_two_instances_send_each_event_once(infra, dsn) -> None:
    """Rebalances and two instances hand out overlapping batches at the same moment: every
    event is claimed by one batch (the others see it held and retry, or find it sent), so each
    email goes out once."""
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=60)
    prefix = f"overlap-{uuid.uuid4().hex[:8]}"
    events = [event_to(f"{prefix}-{n}@example.com") for n in range(12)]
    (first, s1), (second, s2) = (
        instance(infra, DeliveriesLedger(pool)),
        instance(infra, DeliveriesLedger(pool)),
    )
    batches = [events[n % 5 :] + events[: n % 5] for n in range(24)]
    try:
        results = await asyncio.gather(
            *((first, second)[n % 2].deliver_all(batch) for n, batch in enumerate(batches))
        )
        retried = {
            event.id: event
            for outcomes, batch in zip(results, batches, strict=True)
            for outcome, event in zip(outcomes, batch, strict=True)
            if isinstance(outcome, Retry)
        }
        for event in retried.values():  # the record's retry: delivered now, or found sent
            assert await first.deliver(event) in (Delivered(), AlreadyDelivered())
    finally:
        await s1.close()
        await s2.close()
    assert sum(isinstance(o, Delivered) for r in results for o in r) <= len(events)
    for n in range(len(events)):
        await infra.mailbox.wait_for(lambda m, n=n: m["To"] == f"{prefix}-{n}@example.com", 10)
    await asyncio.sleep(0.5)  # a second copy would be here by now
    for n in range(len(events)):
        assert count_to(infra, f"{prefix}-{n}@example.com") == 1
    statuses = await pool.fetch(
        "SELECT status FROM deliveries WHERE event_id = ANY($1)", [e.id for e in events]
    )
    assert [s["status"] for s in statuses] == ["sent"] * len(events)
    await pool.close()


async def test_the_locks_of_a_claim_are_free_once_it_ends(pool) -> None:
    """Another instance must not wait on an event once its attempt is over, whether the block
    ended normally or with an error (the pool's reset of the connection unlocks)."""
    ledger = DeliveriesLedger(pool)
    ids = [str(uuid.uuid4()) for _ in range(3)]
    for failing in (False, True):
        try:
            async with ledger.claim([(i, "t") for i in ids], wait=False) as claims:
                assert sorted(claims) == sorted(ids)
                if failing:
                    raise RuntimeError("the body failed")
        except RuntimeError:
            pass
        async with pool.acquire() as other:
            taken = await other.fetch(
                "SELECT pg_try_advisory_lock(hashtextextended(i, 0)) AS got"
                " FROM unnest($1::text[]) AS i",
                ids,
            )
            assert [row["got"] for row in taken] == [True] * 3
            await other.execute("SELECT pg_advisory_unlock_all()")
