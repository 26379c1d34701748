"""The background task that sends coalesced reset emails once their account has room again."""

import asyncio
import contextlib
import logging

import asyncpg

from reset_service.service_layer.password_resets import PasswordResets

log = logging.getLogger("reset.deferred")


async def send_deferred_emails(resets: PasswordResets, every: float, stop: asyncio.Event) -> None:
    """Every ``every`` seconds until ``stop``; a database hiccup waits for the next round."""
    while not stop.is_set():
        try:
            sent = await resets.send_due_emails()
        except (asyncpg.PostgresError, OSError) as exc:
            log.warning("deferred emails not checked: %s", type(exc).__name__)
        else:
            if sent:
                log.info("deferred emails sent", extra={"fields": {"count": sent}})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
