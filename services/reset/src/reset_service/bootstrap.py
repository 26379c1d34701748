"""Builds the reset service from ``Settings``: the use cases on their PostgreSQL and identity
adapters, and the background workers. The only place (besides tests) that wires adapters into
the service layer; ``api/main.py`` runs what this returns for the app's lifetime.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import asyncpg
from servicekit.messaging.outbox.relay import OutboxRelay
from servicekit.messaging.outbox.settings import outbox_relay
from servicekit.runtime.backoff import sleep_unless_stopped
from servicekit.runtime.database import create_pool
from servicekit.runtime.workers import Worker

from reset_service.adapters.identity_client import IdentityClient
from reset_service.adapters.request_intake import PostgresRequestIntake
from reset_service.adapters.unit_of_work import ResetUnitOfWork
from reset_service.core.config import Settings
from reset_service.domain.rate_limits import RequestLimits
from reset_service.service_layer.password_resets import PasswordResets
from reset_service.service_layer.policy import ResetPolicy
from reset_service.service_layer.unit_of_work import UnitOfWork

log = logging.getLogger("reset.deferred")

PRUNE_EVERY_SECONDS = 60


def reset_policy(settings: Settings) -> ResetPolicy:
    return ResetPolicy(
        hash_keys=settings.token_hash_keyring,
        seal_keys=settings.link_seal_keyring,
        public_origin=settings.public_origin,
        ttl=timedelta(seconds=settings.reset_ttl_seconds),
        max_attempts=settings.max_code_attempts,
        limits=RequestLimits(
            account_max=settings.rate_limit_account_max,
            ip_max=settings.rate_limit_ip_max,
            window=timedelta(seconds=settings.rate_limit_window_seconds),
            link_misses_max=settings.rate_limit_link_misses_max,
        ),
    )


@dataclass(frozen=True)
class ResetService:
    resets: PasswordResets
    workers: list[Worker]
    pool: asyncpg.Pool
    relay: OutboxRelay | None  # None: OUTBOX_RELAY_ENABLED off, another replica publishes

    async def check_database(self) -> None:
        await self.pool.fetchval("SELECT 1")

    async def check_kafka(self) -> None:
        if self.relay is not None:
            await self.relay.check_kafka()


@contextlib.asynccontextmanager
async def reset_service(settings: Settings) -> AsyncIterator[ResetService]:
    """The service's use cases and workers (not started: ``run_workers``), open until exit."""
    # Every use of the pool is a transaction or one statement, with transaction-scoped locks
    # only: no reset query per release, a round trip as long as the request's own
    # (docs/benchmarks.md). tests/integration/test_pool_sessions.py keeps it true.
    pool = await create_pool(
        settings.database_url, max_size=settings.db_pool_max_size, sessions_left_clean=True
    )
    identity = IdentityClient(
        str(settings.identity_url),
        settings.internal_api_token.get_secret_value(),
        settings.identity_timeout_seconds,
    )

    def unit_of_work() -> UnitOfWork:
        return ResetUnitOfWork(pool)

    resets = PasswordResets.build(
        unit_of_work, PostgresRequestIntake(pool), identity, reset_policy(settings)
    )
    workers = [
        Worker("rate-limit-pruner", lambda stop: _prune_rate_limits(resets, stop)),
        Worker(
            "deferred-emails",
            lambda stop: _send_deferred_emails(resets, settings.deferred_email_poll_seconds, stop),
        ),
    ]
    relay = None
    if settings.outbox_relay_enabled:
        relay = outbox_relay(pool, settings.database_url, settings, settings)
        workers.append(Worker("outbox-relay", relay.run))
    try:
        yield ResetService(resets, workers, pool, relay)
    finally:
        await identity.aclose()
        await pool.close()


async def _prune_rate_limits(resets: PasswordResets, stop: asyncio.Event) -> None:
    """Once a minute, from the start, until ``stop``; a database hiccup waits for the next."""
    while not stop.is_set():
        with contextlib.suppress(asyncpg.PostgresError, OSError):
            await resets.prune_rate_limits()
        await sleep_unless_stopped(stop, PRUNE_EVERY_SECONDS)


async def _send_deferred_emails(resets: PasswordResets, every: float, stop: asyncio.Event) -> None:
    """Every ``every`` seconds until ``stop``; a database hiccup waits for the next round."""
    while not stop.is_set():
        try:
            sent = await resets.send_due_emails()
        except (asyncpg.PostgresError, OSError) as exc:
            log.warning("deferred emails not checked: %s", type(exc).__name__)
        else:
            if sent:
                log.info("deferred emails sent", extra={"fields": {"count": sent}})
        await sleep_unless_stopped(stop, every)
