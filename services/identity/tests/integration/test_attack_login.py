"""Attacks on login: online guessing side by side, from one address and from many, and a flood
that would starve the password change a reset waits for."""

import asyncio
import secrets
import threading
from collections.abc import Callable
from datetime import timedelta

import asyncpg
import pytest
from identity_service.adapters.argon2id import Argon2Hasher
from identity_service.domain.second_factor import SecondFactor
from identity_service.service_layer.accounts import AccountService
from identity_service.service_layer.errors import AuthFailed, HashingBusy, LoginThrottled

from .conftest import NEW_PASSWORD, PASSWORD, Clock, new_email

pytestmark = pytest.mark.integration
WRONG = "not the password at all, sorry"


class CountingHasher(Argon2Hasher):
    def __init__(self) -> None:
        super().__init__(19 * 1024, 2, 1)
        self.verified = 0
        self.gate = threading.Event()
        self.gate.set()

    def verify(self, stored_hash: str, password: str) -> tuple[bool, bool]:
        self.verified += 1
        self.gate.wait(timeout=30)
        return super().verify(stored_hash, password)


def ip_block() -> Callable[[int], str]:
    """Addresses no other test uses (counters live on in the module's database)."""
    prefix = f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}"
    return lambda host: f"{prefix}.{host}"


async def _try(accounts: AccountService, email: str, password: str, ip: str) -> str:
    try:
        await accounts.login(email, password, SecondFactor(), ip)
    except AuthFailed as exc:
        return exc.reason
    except LoginThrottled as exc:
        return f"throttled:{exc.retry_after_seconds}"
    return "success"


async def test_thirty_concurrent_guesses_from_one_address_check_at_most_six_passwords(
    make_service: Callable[..., AccountService],
) -> None:
    hasher = CountingHasher()
    accounts = make_service(hasher=hasher)
    email = new_email("guess")
    await accounts.create_account(email, PASSWORD)
    hasher.verified = 0
    ip = ip_block()(1)
    outcomes = await asyncio.gather(*(_try(accounts, email, f"{WRONG} {i}", ip) for i in range(30)))
    # 5 free failures per (account, address), the 6th sets the first 1 s delay.
    assert hasher.verified <= 6, f"{hasher.verified} passwords were checked"
    throttled = [o for o in outcomes if o.startswith("throttled:")]
    assert len(throttled) >= 24
    assert all(int(o.split(":")[1]) >= 1 for o in throttled)


async def test_unknown_emails_are_throttled_exactly_like_known_ones(
    make_service: Callable[..., AccountService],
) -> None:
    accounts = make_service()
    known = new_email("known")
    await accounts.create_account(known, PASSWORD)
    sequences = []
    for email in (known, new_email("nobody")):
        ip = ip_block()(1)
        sequences.append([await _try(accounts, email, WRONG, ip) for _ in range(8)])
    assert sequences[0] == sequences[1], sequences
    assert sequences[0][:6] == ["invalid_credentials"] * 6
    assert sequences[0][6].startswith("throttled:")


async def test_delays_grow_after_the_free_failures(
    make_service: Callable[..., AccountService], clock: Clock
) -> None:
    accounts = make_service()
    email = new_email("grow")
    await accounts.create_account(email, PASSWORD)
    waits = []
    ip, owner_ip = ip_block()(1), ip_block()(1)
    for _ in range(14):
        outcome = await _try(accounts, email, WRONG, ip)
        if outcome.startswith("throttled:"):
            waits.append(int(outcome.split(":")[1]))
            clock.now += waits[-1]  # wait exactly as told, then guess again
    assert waits[:4] == [1, 2, 4, 8], waits
    # The owner, on another address, waits at most the per-account cap (60 s), then gets in.
    outcome = await _try(accounts, email, PASSWORD, owner_ip)
    if outcome != "success":
        assert outcome.startswith("throttled:") and int(outcome.split(":")[1]) <= 60
        clock.now += int(outcome.split(":")[1])
        assert await _try(accounts, email, PASSWORD, owner_ip) == "success"


async def test_attackers_on_many_addresses_delay_the_owner_by_a_bounded_time_only(
    make_service: Callable[..., AccountService], clock: Clock
) -> None:
    accounts = make_service()
    email = new_email("owner")
    await accounts.create_account(email, PASSWORD)
    net = ip_block()
    wait = 0
    for _ in range(9):  # 25 addresses guessing side by side, each round as soon as allowed
        clock.now += wait
        outcomes = await asyncio.gather(*(_try(accounts, email, WRONG, net(i)) for i in range(25)))
        wait = max(int(o.split(":")[1]) for o in outcomes if o.startswith("throttled:"))
    outcome = await _try(accounts, email, PASSWORD, net(200))
    assert outcome.startswith("throttled:"), outcome  # the account is under attack...
    wait = int(outcome.split(":")[1])
    assert 30 < wait <= 60  # ...the delay has grown, but the owner's is capped
    clock.now += wait
    assert await _try(accounts, email, PASSWORD, net(200)) == "success"


async def test_one_address_guessing_many_accounts_is_stopped(
    make_service: Callable[..., AccountService],
) -> None:
    accounts = make_service()
    ip = ip_block()(1)
    outcomes = [await _try(accounts, new_email("spray"), WRONG, ip) for _ in range(33)]
    assert outcomes[:31] == ["invalid_credentials"] * 31  # 30 free, the 31st sets a delay
    assert all(o.startswith("throttled:") for o in outcomes[31:])


async def test_a_login_flood_is_refused_at_once_and_a_password_change_still_runs(
    make_service: Callable[..., AccountService],
) -> None:
    hasher = CountingHasher()
    accounts = make_service(hasher=hasher, queue_limit=4)
    owner = new_email("owner")
    owner_id = await accounts.create_account(owner, PASSWORD)
    flood_email = new_email("flood")
    await accounts.create_account(flood_email, PASSWORD)

    net = ip_block()
    hasher.gate.clear()  # the shared lane's threads are now stuck in argon2id
    flood = [asyncio.create_task(_try(accounts, flood_email, PASSWORD, net(i))) for i in range(4)]
    await asyncio.sleep(0.2)
    refused = await asyncio.gather(
        *(accounts.login(flood_email, PASSWORD, SecondFactor(), net(99)) for _ in range(20)),
        return_exceptions=True,
    )
    assert all(isinstance(r, HashingBusy) for r in refused), refused
    # The reset's password change has a lane of its own: it completes while the flood waits.
    await asyncio.wait_for(
        accounts.set_password(owner_id, NEW_PASSWORD, SecondFactor(), None), timeout=10
    )
    hasher.gate.set()
    assert await asyncio.gather(*flood) == ["success"] * 4
    assert timedelta(0) < timedelta(seconds=HashingBusy.retry_after_seconds)


async def test_addresses_tried_once_do_not_pile_up_in_the_throttle_table(
    make_service: Callable[..., AccountService], clock: Clock, pool: asyncpg.Pool
) -> None:
    accounts = make_service()
    net = ip_block()
    for i in range(5):
        await _try(accounts, new_email("once"), WRONG, net(i))
    before = await pool.fetchval("SELECT count(*) FROM login_throttle")
    clock.now += 3600 + 1
    assert await accounts.prune_login_throttle() >= 15  # 3 scopes x 5 attempts
    assert await pool.fetchval("SELECT count(*) FROM login_throttle") <= before - 15


async def test_one_host_rotating_through_its_ipv6_prefix_is_stopped_like_one_address(
    make_service: Callable[..., AccountService],
) -> None:
    """An IPv6 host is handed a whole /64 (2^64 addresses): one address per guess must not
    make it a crowd. The per-address limits hold for the prefix."""
    accounts = make_service()
    prefix = f"2001:db8:{secrets.randbelow(65536):x}:{secrets.randbelow(65536):x}"
    outcomes = [
        await _try(accounts, new_email("spray6"), WRONG, f"{prefix}::{host:x}")
        for host in range(1, 34)
    ]
    assert outcomes[:31] == ["invalid_credentials"] * 31  # 30 free, the 31st sets a delay
    assert all(o.startswith("throttled:") for o in outcomes[31:]), outcomes[31:]
    # Another prefix is somebody else: not held up.
    assert await _try(accounts, new_email("other6"), WRONG, "2001:db8:ffff:1::1") == (
        "invalid_credentials"
    )
