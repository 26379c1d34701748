"""An attacker with IPv6 holds a whole /64 (the smallest prefix a network hands out): one
subscriber, 2^64 addresses. The per-IP limits must count the prefix, not each address, or one
client walks past them by changing the last bits; and an IPv4 client seen as ``::ffff:a.b.c.d``
(a dual-stack socket, or a proxy writing mapped addresses) is the same client as ``a.b.c.d``."""

import asyncio
import secrets
import uuid
from collections.abc import Callable

import pytest
from reset_service.service_layer.errors import ConfirmRejected, RateLimited
from reset_service.service_layer.password_resets import PasswordResets

from .conftest import unique_email, unique_ip

pytestmark = pytest.mark.integration
Make = Callable[..., PasswordResets]


def unique_prefix() -> str:
    """A fresh /64 in the documentation range 2001:db8::/32."""
    n = uuid.uuid4().int
    return f"2001:db8:{n % 0xFFFF:x}:{(n >> 16) % 0xFFFF:x}"


def host_in(prefix: str) -> str:
    return f"{prefix}:{secrets.randbits(16):x}:{secrets.randbits(16):x}:0:{secrets.randbits(16):x}"


async def outcome(coro: object) -> str:
    try:
        await coro  # type: ignore[misc]
    except RateLimited:
        return "rate_limited"
    except ConfirmRejected as exc:
        return exc.failure.value
    return "accepted"


async def test_requests_from_many_hosts_of_one_ipv6_64_share_one_limit(make_resets: Make) -> None:
    resets, prefix = make_resets(ip_max=20), unique_prefix()
    results = await asyncio.gather(
        *(outcome(resets.request(unique_email(), host_in(prefix))) for _ in range(25))
    )
    assert results.count("accepted") == 20, results
    assert results.count("rate_limited") == 5, results
    # Another /64 is another client.
    await resets.request(unique_email(), host_in(unique_prefix()))


async def test_link_guesses_from_many_hosts_of_one_ipv6_64_share_one_limit(
    make_resets: Make,
) -> None:
    resets, prefix = make_resets(link_misses_max=10), unique_prefix()

    def guess() -> object:
        return resets.confirm(
            token=secrets.token_urlsafe(32),
            new_password="a brand new long password",
            code="AAAAAAAA",
            client_ip=host_in(prefix),
        )

    results = await asyncio.gather(*(outcome(guess()) for _ in range(25)))
    assert results.count("link_invalid") == 10, results
    assert results.count("rate_limited") == 15, results


async def test_an_ipv4_client_seen_as_a_mapped_ipv6_address_is_the_same_client(
    make_resets: Make,
) -> None:
    resets, ip = make_resets(ip_max=20), unique_ip()
    for n in range(20):
        await resets.request(unique_email(), ip if n % 2 else f"::ffff:{ip}")
    with pytest.raises(RateLimited):
        await resets.request(unique_email(), f"::ffff:{ip}")
    with pytest.raises(RateLimited):
        await resets.request(unique_email(), ip)
