"""Issue 19, item 4: PostgreSQL fails over to its streaming standby under load.

Infrastructure of its own (the primary dies for good here): a primary and a hot standby made by
`pg_basebackup` (devinfra.postgres_standby), replication synchronous (synchronous_standby_names,
synchronous_commit=on) as docs/delivery.md asks of the deployment, and the three services on a
DSN naming both hosts with target_session_attrs=read-write. Under open-loop load the primary is
SIGKILLed and the standby promoted, as a failover manager (CloudNativePG, Patroni) would.

Requests during the switch may fail, with a 503 JSON body and nothing else; no accepted (202)
request is lost, no email sent twice, and no request half-written: on the new primary, the
accounts holding a reset request are exactly the accounts that got an email.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import Iterator

import asyncpg
import httpx
import pytest
from devinfra.paths import default_run_dir
from devinfra.platform import SERVICES, TOPICS, Endpoints, Platform
from devinfra.postgres_standby import StandbyPostgres
from devinfra.processes import free_port
from devinfra.providers import Infrastructure, start_infrastructure

from .conftest import PROVIDER_VARIABLES, SERVICE_ENV, FaultKit

pytestmark = pytest.mark.cluster

RATE = 8  # reset requests per second, open loop
DETECTION_S = 1.0  # the failover manager's delay between the primary's death and promotion


def both_hosts(primary: int, standby: int, database: str) -> str:
    return (
        f"postgresql://postgres@127.0.0.1:{primary},127.0.0.1:{standby}/{database}"
        "?target_session_attrs=read-write"
    )


@pytest.fixture(scope="module")
def replicated(request: pytest.FixtureRequest) -> Iterator[tuple[Infrastructure, StandbyPostgres]]:
    run_dir = default_run_dir() / f"failover-{os.getpid()}"
    with pytest.MonkeyPatch.context() as patch:
        for name in PROVIDER_VARIABLES:
            patch.delenv(name, raising=False)
        patch.setenv("PWRESET_INFRA_PROVIDER", "local")
        with start_infrastructure(run_dir) as infra:
            assert infra.postgres is not None
            for name in SERVICES:  # on the primary before the copy; streamed from then on
                infra.dsn_for(name)
            standby = StandbyPostgres(run_dir / "standby", free_port(), infra.postgres)
            standby.start()
            try:
                standby.make_synchronous()  # on the primary only: the copy stays without it
                assert standby.wait_streaming(want="sync") == "sync"
                yield infra, standby
            finally:
                standby.stop()
    if request.session.testsfailed:
        print(f"\nfailover: run dir kept for its logs: {run_dir}")
    else:
        shutil.rmtree(run_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def failover_platform(replicated) -> Iterator[Platform]:
    infra, standby = replicated
    infra.create_topics(list(TOPICS))

    two_hosts = {name: both_hosts(infra.postgres.port, standby.port, name) for name in SERVICES}
    endpoints = Endpoints(
        database_url=two_hosts,
        kafka_bootstrap=infra.kafka_bootstrap,
        smtp_host=infra.smtp_host,
        smtp_port=infra.smtp_port,
        kafka_env={name: infra.kafka_env(name) for name in SERVICES},
    )
    running = Platform(endpoints, infra.run_dir / "platform", extra_env=SERVICE_ENV)
    running.migrate()  # the migrate command on the same two-host DSN, as the Job runs it
    try:
        running.start()
        yield running
    finally:
        running.stop()


async def test_failover_to_the_standby_loses_no_accepted_request(
    replicated, failover_platform
) -> None:
    infra, standby = replicated
    async with httpx.AsyncClient(timeout=20) as http:
        kit = FaultKit(infra, failover_platform, http)
        emails = await kit.accounts(160, "failover")
        after_emails = await kit.accounts(5, "failover-after")
        tally = kit.tally()
        stream = asyncio.create_task(kit.stream(emails, RATE, tally))
        await asyncio.sleep(4)
        killed = time.monotonic()
        await asyncio.to_thread(infra.postgres.kill)  # SIGKILL, postmaster and backends
        await asyncio.sleep(DETECTION_S)
        await asyncio.to_thread(standby.promote)
        promoted = time.monotonic()

        async def all_ready() -> float:
            async with asyncio.timeout(60):
                while True:
                    states = [(await kit.readiness(key))[0] for key in SERVICES]
                    if states == [200, 200, 200]:
                        return time.monotonic() - killed
                    await asyncio.sleep(0.2)

        ready_after = await all_ready()
        await stream
        later = kit.tally()
        for email in after_emails:
            await kit.request_reset(email, later)
        counts = await kit.wait_for_mail(tally.accepted | later.accepted, within=90)

        ids = {kit.account_ids[e]: e for e in emails}
        new_primary = await asyncpg.connect(standby.dsn("reset"))
        try:
            in_recovery = await new_primary.fetchval("SELECT pg_is_in_recovery()")
            rows = await new_primary.fetch(
                "SELECT DISTINCT account_id::text AS id FROM reset_requests "
                "WHERE account_id::text = ANY($1::text[])",
                list(ids),
            )
        finally:
            await new_primary.close()
    written = {ids[row["id"]] for row in rows}
    mailed = {e for e in emails if counts[e] > 0}
    failed = [t for t, answer in tally.answers if answer != "202"]
    numbers = kit.outcome(tally, counts)
    kit.report(
        "19.4 postgres failover under load",
        **numbers,
        refused=len(tally.refused),
        refused_answers=dict(tally.statuses),
        mailed_although_refused=sum(1 for e in tally.refused if counts[e] > 0),
        written_not_mailed=len(written - mailed),
        mailed_not_written=len(mailed - written),
        failing_window_s=round(max(failed) - min(failed), 2) if failed else 0,
        promote_s=round(promoted - killed - DETECTION_S, 2),
        all_ready_after_kill_s=round(ready_after, 2),
    )

    assert in_recovery is False  # the standby is the primary now
    assert numbers["accepted"] >= 60 and numbers["lost"] == 0 and numbers["duplicates"] == 0
    # A request that failed failed with a 503 (no 500, no dropped connection).
    assert set(tally.statuses) <= {"503"}, tally.statuses
    # Nothing half-written: a request is stored on the new primary iff its email went out.
    assert written == mailed, (written - mailed, mailed - written)
    assert tally.accepted <= written
    assert len(later.accepted) == 5 and all(counts[e] == 1 for e in later.accepted)


async def test_with_asynchronous_replication_the_check_sees_accepted_requests_lost(
    replicated, failover_platform
) -> None:
    """The other side of the coin, and proof that the check above can fail: the promoted
    standby of the first test is the primary now; a new standby of it takes the old primary's
    port (so the services' DSN still names both), replication left asynchronous. With the
    primary's WAL sender held back (SIGSTOP: replication lag on demand) while requests are
    accepted, the standby is promoted after the primary's death without them: accepted
    requests are missing on the new primary."""
    infra, primary = replicated
    assert infra.postgres is not None
    lagging = StandbyPostgres(
        infra.run_dir / "standby-async", infra.postgres.port, primary, name="standby2"
    )
    await asyncio.to_thread(lagging.start)
    try:
        assert await asyncio.to_thread(lagging.wait_streaming) == "async"
        async with httpx.AsyncClient(timeout=20) as http:
            kit = FaultKit(infra, failover_platform, http)
            emails = await kit.accounts(24, "async")
            await asyncio.sleep(1)  # the accounts reach the standby before the lag
            await asyncio.to_thread(lagging.hold_back_wal)
            tally = kit.tally()
            await kit.stream(emails, RATE, tally)
            await asyncio.to_thread(primary.kill)  # the held WAL sender dies with it
            await asyncio.to_thread(lagging.promote)
            ids = {kit.account_ids[e]: e for e in emails}
            new_primary = await asyncpg.connect(lagging.dsn("reset"))
            try:
                rows = await new_primary.fetch(
                    "SELECT DISTINCT account_id::text AS id FROM reset_requests "
                    "WHERE account_id::text = ANY($1::text[])",
                    list(ids),
                )
            finally:
                await new_primary.close()
    finally:
        lagging.release_wal()  # (when the test failed before the primary's kill)
        await asyncio.to_thread(lagging.stop)
    written = {ids[row["id"]] for row in rows}
    kit.report(
        "19.4 asynchronous replication, standby lagging, then failover",
        requested=tally.requested,
        accepted=len(tally.accepted),
        accepted_but_missing_on_new_primary=len(tally.accepted - written),
    )
    assert len(tally.accepted) == 24  # every request was acknowledged...
    assert tally.accepted - written  # ...and the acknowledged writes are gone
