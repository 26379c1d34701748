"""The reset email goes to the address identity stored, never to the string typed; every
spelling of one mailbox shares one per-account limit (pwreset_contracts.emails)."""

import asyncio
import uuid
from collections.abc import Callable

import asyncpg
import pytest
from reset_service.service_layer.password_resets import PasswordResets

from .conftest import FakeIdentity, unique_ip

pytestmark = pytest.mark.integration
Make = Callable[..., PasswordResets]


async def recipients(pool: asyncpg.Pool, account_id: uuid.UUID) -> list[str]:
    return [
        row["email"]
        for row in await pool.fetch(
            """SELECT convert_from(value, 'UTF8')::jsonb->>'email' AS email FROM outbox
               WHERE convert_from(value, 'UTF8')::jsonb->>'account_id' = $1""",
            str(account_id),
        )
    ]


async def test_the_event_carries_the_stored_address_never_the_typed_one(
    make_resets: Make, identity: FakeIdentity, pool: asyncpg.Pool
) -> None:
    name = f"Ada.L-{uuid.uuid4().hex[:8]}"
    stored = f"{name}@b\u00fccher.example"
    account = identity.add(stored)
    typed = f"  {name.upper()}@XN--BCHER-KVA.EXAMPLE "
    await make_resets(account_max=5).request(typed, unique_ip())
    assert await recipients(pool, account.account_id) == [stored]


async def test_twenty_concurrent_spellings_of_one_mailbox_share_its_limit(
    make_resets: Make, identity: FakeIdentity, pool: asyncpg.Pool
) -> None:
    name = f"grace-{uuid.uuid4().hex[:8]}"
    account = identity.add(f"{name}@b\u00fccher.example")
    spellings = [
        f"{name}@b\u00fccher.example",
        f"{name.upper()}@B\u00dcCHER.EXAMPLE",
        f"{name}@xn--bcher-kva.example",
        f"{name.title()}@XN--BCHER-KVA.example.",
    ] * 5
    resets = make_resets(account_max=3)
    await asyncio.gather(*(resets.request(s, unique_ip()) for s in spellings))
    assert len(await recipients(pool, account.account_id)) == 3
