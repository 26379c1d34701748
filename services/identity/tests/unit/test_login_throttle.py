"""The failed-login limits' keys and housekeeping, against in-memory fakes."""

from datetime import timedelta

import pytest
from identity_service.domain.login_throttle import ThrottleCounter
from identity_service.service_layer.errors import LoginThrottled
from identity_service.service_layer.login_throttle import LoginLimits, LoginThrottle

from .fakes import FakeDatabase, FakeLoginThrottle, World


def _throttle(db: FakeDatabase) -> LoginThrottle:
    return LoginThrottle(FakeLoginThrottle(db), LoginLimits.build(key=b"K" * 32))


async def test_every_spelling_of_an_address_shares_its_limits_and_none_is_stored() -> None:
    db = FakeDatabase()
    throttle = _throttle(db)
    world = World()
    now = world.clock.datetime()
    for email in ("ada@example.com", " ADA@EXAMPLE.COM", "Ada@Example.Com "):
        for i in range(3):  # from different addresses: only the account scope adds up
            await throttle.reserve(email, f"192.0.2.{i}", now)
    keys = throttle.scopes("ada@example.com", "192.0.2.0")
    assert db.tables.login_throttle[keys[0][1]].failures == 9
    assert all(b"ada" not in k and b"192.0.2" not in k for k in db.tables.login_throttle)
    for i in range(2):  # 10 free, the 11th starts a delay...
        await throttle.reserve("ADA@example.com", f"198.51.100.{i}", now)
    with pytest.raises(LoginThrottled):  # ...that the 12th has to wait out
        await throttle.reserve("ada@EXAMPLE.com", "198.51.100.9", now)


async def test_housekeeping_forgets_quiet_counters_but_not_running_delays() -> None:
    db = FakeDatabase()
    throttle = _throttle(db)  # failures are forgotten after an hour without one
    now = World().clock.datetime()
    hour = timedelta(hours=1)
    db.tables.login_throttle = {
        b"quiet": ThrottleCounter(3, now - hour - timedelta(seconds=1), None),
        b"delay over": ThrottleCounter(9, now - 2 * hour, now - hour),
        b"recent": ThrottleCounter(1, now - hour + timedelta(seconds=1), None),
        b"delay running": ThrottleCounter(20, now - 2 * hour, now + timedelta(seconds=5)),
    }
    assert await throttle.prune(now) == 2
    assert set(db.tables.login_throttle) == {b"recent", b"delay running"}


def test_a_free_attempt_blocks_nobody_whose_clock_read_came_first() -> None:
    # Two logins from one address read the clock, then queue on the counter's lock; the later
    # reader may get the lock first. Within the free failures nothing may be blocked, whatever
    # the order: people behind one NAT logging in together must all get in.
    from datetime import UTC, datetime

    from identity_service.domain.login_throttle import ThrottleRule, reserve

    rules = (ThrottleRule("ip", free_failures=30, max_delay=timedelta(minutes=15)),)
    read_first = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    read_second = read_first + timedelta(milliseconds=3)
    forget = timedelta(hours=1)
    locked_first = reserve(rules, (ThrottleCounter(),), read_second, forget)
    assert locked_first.allowed
    locked_second = reserve(rules, locked_first.counters, read_first, forget)
    assert locked_second.allowed, f"blocked for {locked_second.retry_after}"
    assert locked_second.counters[0].failures == 2


def test_an_ipv6_client_is_counted_by_its_64_and_every_spelling_of_an_address_as_one() -> None:
    throttle = _throttle(FakeDatabase())

    def ip_key(ip: str) -> bytes:
        return throttle.scopes("ada@example.com", ip)[2][1]

    assert ip_key("2001:db8:1:2::1") == ip_key("2001:DB8:1:2:ffff:ffff:ffff:fffe")
    assert ip_key("2001:db8:1:2::1") != ip_key("2001:db8:1:3::1")
    assert ip_key("::ffff:192.0.2.7") == ip_key("192.0.2.7") != ip_key("192.0.2.8")
    assert ip_key("unknown") != ip_key("192.0.2.7")
