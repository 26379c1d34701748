"""Runs the shared outbox relay for identity's own outbox (PasswordChanged events)."""

import asyncio
import contextlib
from collections.abc import AsyncIterator

import asyncpg
from fastapi import FastAPI
from servicekit.messaging.outbox.relay import OutboxRelay

from identity_service.core.config import Settings


@contextlib.asynccontextmanager
async def outbox_relay(app: FastAPI, pool: asyncpg.Pool, settings: Settings) -> AsyncIterator[None]:
    if not settings.outbox_relay_enabled:
        app.state.relay = None
        yield
        return
    relay = OutboxRelay(
        pool,
        settings.database_url,
        settings.kafka_bootstrap_servers,
        kafka_options=settings.kafka.security_options(),
        batch_size=100,
        poll_interval=1.0,
        retention_seconds=86_400,
    )
    app.state.relay = relay
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop), name="outbox-relay")
    try:
        yield
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(task, timeout=20)
