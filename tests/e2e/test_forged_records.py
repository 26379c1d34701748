"""A compromised writer on the topics: with the credentials of the service allowed to write
the topic (reset's for password-reset.requested.v1, identity's for identity.*) and of one
allowed to read it (the notifier's), it copies a victim's event, puts its own address in
`email` and gives the copy a fresh CloudEvent id. The sealed link inside is bound to the request
(or change) id, the account id and the recipient, so it does not open for the new address: the
notifier mails nobody and dead-letters the copy, with a counter and a log line to say so."""

import asyncio
import json
import re
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from devinfra.platform import Platform
from devinfra.topic_reader import read_topics
from pwreset_contracts import PasswordChangedV1, ResetRequestedV1
from pwreset_contracts.dead_letters import DEAD_LETTER_TOPIC, read_dead_letter

from .conftest import Register
from .test_reset_flow import link_in, new_email
from .test_security import NEW_PASSWORD, token_of, wait_mail

pytestmark = pytest.mark.e2e

Record = tuple[bytes, bytes, list[tuple[str, bytes]]]  # key, value, headers


def _json_or_empty(value: bytes | None) -> dict:
    """Other tests leave records that are not JSON (poison records) on the same topics."""
    try:
        data = json.loads(value or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


async def records_of(
    kafka: dict[str, Any], topic: str, wanted: Callable[[dict], bool]
) -> list[Record]:
    """Every record of `topic` whose JSON value satisfies `wanted`, read from the beginning."""
    return [
        (r.key or b"", r.value or b"", list(r.headers))
        for r in await read_topics(kafka, [topic])
        if wanted(_json_or_empty(r.value))
    ]


async def write_forged_copy(
    kafka: dict[str, Any],
    topic: str,
    original: Record,
    email: str,
    changes: dict[str, object] | None = None,
) -> str:
    """The attack: the same record, another recipient (or other `changes`), a fresh CloudEvent
    id. Returns the id."""
    key, value, headers = original
    forged_id = str(uuid.uuid4())
    data = {**json.loads(value), "email": email, **(changes or {})}
    forged_headers = [(n, forged_id.encode() if n == "ce_id" else v) for n, v in headers]
    producer = AIOKafkaProducer(**kafka, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            topic, key=key, value=json.dumps(data).encode(), headers=forged_headers
        )
    finally:
        await producer.stop()
    return forged_id


async def dead_letter_of(
    kafka: dict[str, Any], event_id: str, within: float = 30.0
) -> list[Record]:
    """Dead letters whose copied ce_id is `event_id` (waits for the first, then a second more)."""
    consumer = AIOKafkaConsumer(
        DEAD_LETTER_TOPIC,
        **kafka,
        group_id=f"forged-{uuid.uuid4()}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list[Record] = []

    async def fetch(timeout_ms: int) -> None:
        for batch in (await consumer.getmany(timeout_ms=timeout_ms)).values():
            found.extend(
                (r.key or b"", r.value or b"", list(r.headers))
                for r in batch
                if ("ce_id", event_id.encode()) in list(r.headers)
            )

    try:
        deadline = asyncio.get_running_loop().time() + within
        while not found and asyncio.get_running_loop().time() < deadline:
            await fetch(300)
        if found:
            await asyncio.sleep(1)  # a second copy would be a duplicate dead letter
            await fetch(500)
    finally:
        await consumer.stop()
    return found


async def counted(platform: Platform, metric: str) -> float:
    async with httpx.AsyncClient(timeout=10) as client:
        text = (await client.get(platform.metrics_url("notifier"))).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(metric) and not line.startswith("#")
    )


async def assert_forgery_refused(
    infra, platform: Platform, topic: str, original: Record, attacker: str, writer: str
) -> None:
    before = await counted(platform, "notifier_unbound_seals_total")
    forged_id = await write_forged_copy(infra.kafka_options(writer), topic, original, attacker)
    # Whichever comes first: on the old code the attacker's email, on the new a dead letter.
    letters = await dead_letter_of(infra.kafka_options(), forged_id)
    await asyncio.sleep(1)
    mailed = [m for m in infra.mailbox.messages() if m["To"] == attacker]
    assert not mailed, "the victim's link was mailed to the attacker"
    assert len(letters) == 1, letters
    reason = read_dead_letter(letters[0][2]).reason
    assert "does not open under the record's own fields" in reason, reason
    assert attacker not in reason  # the reason names no full address
    assert await counted(platform, "notifier_unbound_seals_total") == before + 1
    log = (platform.log_dir / "notifier.log").read_text()
    assert re.search(rf"sealed value refused.*{forged_id}", log), "no log line names the copy"


async def test_a_copied_reset_request_with_the_attackers_address_mails_nobody(
    infra, platform: Platform, reset: httpx.AsyncClient, register: Register
) -> None:
    victim, attacker = new_email(), new_email()
    await register(victim)
    requested = await reset.post("/v1/password-resets", json={"email": victim})
    assert requested.status_code == 202
    await wait_mail(infra, victim, "Reset your password")  # the victim's own email arrives
    originals = await records_of(
        infra.kafka_options("notifier"),
        ResetRequestedV1.topic,
        lambda d: d.get("email") == victim,
    )
    assert len(originals) == 1
    await assert_forgery_refused(
        infra, platform, ResetRequestedV1.topic, originals[0], attacker, writer="reset"
    )


async def test_a_copied_password_changed_notice_with_the_attackers_address_mails_nobody(
    infra, platform: Platform, reset: httpx.AsyncClient, register: Register
) -> None:
    victim, attacker = new_email(), new_email()
    await register(victim)
    code = (await reset.post("/v1/password-resets", json={"email": victim})).json()[
        "verification_code"
    ]
    token = token_of(link_in(await wait_mail(infra, victim, "Reset your password")))
    confirmed = await reset.post(
        "/v1/password-resets/confirm",
        json={"token": token, "verification_code": code, "new_password": NEW_PASSWORD},
    )
    assert confirmed.status_code == 200, confirmed.text
    await wait_mail(infra, victim, "Your password was changed")
    originals = await records_of(
        infra.kafka_options("notifier"),
        PasswordChangedV1.topic,
        lambda d: d.get("email") == victim,
    )
    assert len(originals) == 1
    await assert_forgery_refused(
        infra, platform, PasswordChangedV1.topic, originals[0], attacker, writer="identity"
    )
