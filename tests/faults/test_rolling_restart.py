"""Issue 19, item 3: each service rolled the way a Deployment rolls it, under open-loop load.

A replica proxy (replica_proxy.py) stands for the Kubernetes Service: it sends each new
connection to a replica whose readiness probe answered 200, probing every PROBE_PERIOD. A roll:
start the new replica, wait until the proxy has it in rotation, SIGTERM the old one, drop it
from the proxy once it has exited (its pod gone). Each service is rolled there and back (the
session's process is replaced, then replaces its replacement), so the platform ends as it began.

What makes it hold is the services' graceful shutdown (servicekit.runtime.shutdown): readiness
503 for SHUTDOWN_DRAIN_SECONDS (conftest.SERVICE_ENV) while still serving, then uvicorn stops
accepting, finishes in-flight requests, and the workers stop cleanly. Without the drain the
proxy still sends connections to a replica that stopped accepting: failed requests.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from .replica_proxy import ReplicaProxy

pytestmark = pytest.mark.cluster

# Out of rotation at most 2 failed probes (period 0.5 s, timeout 1 s) after SIGTERM: inside the
# drain (conftest.SERVICE_ENV: SHUTDOWN_DRAIN_SECONDS=4).
PROBE_PERIOD = 0.5
RATE = 6  # reset requests per second, open loop
# Enough for 70 s of load: two rolls take about 50 s on the shared 2-core machine (a new
# replica needs 10-17 s to be ready there); the test fails if the load ends first.
ACCOUNTS = 420


def ready_url(kit, key: str) -> str:
    return f"{kit.platform.url(key)}/healthz/ready"


async def roll(kit, proxy: ReplicaProxy | None, service: str, old: str, new: str, port_of):
    """One step of a rolling update; returns its timings and the old process's exit code."""
    started = time.monotonic()
    if new == service:
        await asyncio.to_thread(kit.platform.start_service, service)
    else:
        await asyncio.to_thread(kit.platform.start_instance, service, new)
    new_ready = time.monotonic() - started
    if proxy is not None:
        proxy.add(new, port_of(new), ready_url(kit, new))
        await proxy.wait_ready(new)
    in_rotation = time.monotonic() - started
    process = kit.platform.running[old].process
    terminated = time.monotonic()
    stopping = asyncio.create_task(asyncio.to_thread(kit.platform.stop_service, old))  # SIGTERM
    out_after = None
    if proxy is not None:
        await proxy.wait_out_of_rotation(old)
        out_after = round(time.monotonic() - terminated, 2)
    await stopping
    exited = time.monotonic()
    exited_after = round(exited - terminated, 2)
    if proxy is not None:
        proxy.remove(old)
    return {
        "window": (terminated, exited),  # from SIGTERM to the exit (removed when reported)
        "new_ready_s": round(new_ready, 2),
        "in_rotation_s": round(in_rotation, 2),
        "out_of_rotation_after_sigterm_s": out_after,
        "exited_after_sigterm_s": exited_after,
        "exit_code": process.returncode,
    }


async def roll_under_load(kit, *, service: str, tag: str, via: str, proxy, port_of):
    """Load through `via` while `service` is rolled there and back; returns the numbers."""
    emails = await kit.accounts(ACCOUNTS, tag)
    tally = kit.tally()
    enough = asyncio.Event()
    load = asyncio.create_task(kit.stream(emails, RATE, tally, via=(via,), until=enough))
    try:
        await asyncio.sleep(2)
        forth = await roll(kit, proxy, service, old=service, new=f"{service}-b", port_of=port_of)
        await asyncio.sleep(2)
        back = await roll(kit, proxy, service, old=f"{service}-b", new=service, port_of=port_of)
        await asyncio.sleep(2)
        # Both rolls happened under load: the stream had requests left to send.
        assert not load.done(), "the load ran out before the rolls ended: raise ACCOUNTS"
    finally:
        enough.set()
        await load
    for step in (forth, back):
        start, end = step.pop("window")
        step["answered_while_stopping"] = sum(1 for t, _ in tally.answers if start <= t <= end)
    counts = await kit.wait_for_mail(tally.accepted, within=90)
    return tally, counts, forth, back


def check(kit, name: str, tally, counts, forth, back, proxy: ReplicaProxy | None) -> None:
    numbers = kit.outcome(tally, counts)
    extra = {"no_replica": proxy.no_replica, "refused": proxy.refused} if proxy else {}
    kit.report(
        name,
        **numbers,
        failed=tally.requested - numbers["accepted"],
        failed_answers=dict(tally.statuses),
        **extra,
        roll_forth=forth,
        roll_back=back,
    )
    assert tally.requested >= 60  # (and the load outlived both rolls: roll_under_load)
    if proxy is not None:
        for step in (forth, back):
            assert step["answered_while_stopping"] > 0, step  # requests met the replica's exit
    assert numbers["accepted"] == tally.requested, dict(tally.statuses)  # no failed request
    assert numbers["lost"] == 0 and numbers["duplicates"] == 0
    if proxy is not None:
        assert (proxy.no_replica, proxy.refused) == (0, 0)
    for step in (forth, back):
        # Graceful: it stopped by itself (uvicorn re-raises the SIGTERM: -15) within the drain
        # plus a little, never by the SIGKILL stop_service sends after 30 s.
        assert step["exit_code"] in (0, -15), step
        assert step["exited_after_sigterm_s"] < 20, step


async def test_rolling_reset_fails_no_request_and_loses_no_email(kit) -> None:
    proxy = ReplicaProxy(period=PROBE_PERIOD)
    await proxy.start()
    kit.platform.ports["reset-service"] = proxy.port  # kit.stream(via="reset-service")
    try:
        proxy.add("reset", kit.platform.ports["reset"], ready_url(kit, "reset"))
        await proxy.wait_ready("reset")
        tally, counts, forth, back = await roll_under_load(
            kit,
            service="reset",
            tag="roll-reset",
            via="reset-service",
            proxy=proxy,
            port_of=lambda key: kit.platform.ports[key],
        )
    finally:
        await proxy.close()
    check(kit, "19.3 reset rolled under load", tally, counts, forth, back, proxy)


async def test_rolling_identity_fails_no_request_and_loses_no_email(kit) -> None:
    """reset asks identity's internal API for every request: through the proxy here, as
    through the identity-internal Service in Kubernetes; the probe asks the public port."""
    proxy = ReplicaProxy(period=PROBE_PERIOD)
    await proxy.start()
    front = "reset-front"
    try:
        proxy.add("identity", kit.platform.ports["identity-internal"], ready_url(kit, "identity"))
        await proxy.wait_ready("identity")
        await asyncio.to_thread(
            kit.platform.start_instance,
            "reset",
            front,
            env={"IDENTITY_URL": f"http://127.0.0.1:{proxy.port}"},
        )
        tally, counts, forth, back = await roll_under_load(
            kit,
            service="identity",
            tag="roll-identity",
            via=front,
            proxy=proxy,
            port_of=lambda key: kit.platform.ports[f"{key}-internal"],
        )
    finally:
        await asyncio.to_thread(kit.platform.stop_service, front)
        await proxy.close()
    check(kit, "19.3 identity rolled under load", tally, counts, forth, back, proxy)


async def test_rolling_notifier_loses_and_duplicates_no_email(kit) -> None:
    """The notifier takes no traffic: a roll is a consumer joining the group, then one leaving
    it (committing what it delivered). Every email once, none twice."""
    before = kit.log_offset("notifier")
    tally, counts, forth, back = await roll_under_load(
        kit, service="notifier", tag="roll-notifier", via="reset", proxy=None, port_of=None
    )
    left_cleanly = kit.log_lines("notifier", before, "offsets committed, group left")
    check(kit, "19.3 notifier rolled under load", tally, counts, forth, back, None)
    assert left_cleanly >= 1  # the first replica's exit (the second's log is notifier-b.log)
