"""The request intake on PostgreSQL: a whole reset request in one statement, one round trip.

``issue_reset_request`` (migration 0005) takes both limits, revokes, writes the request and its
email, and NOTIFYs the relay; a single statement outside an explicit transaction is a
transaction of its own, so no BEGIN or COMMIT is sent either. Known and unknown emails send the
same text with the same parameter types; only ``p_keep``'s value differs.
"""

import asyncpg
from servicekit.messaging.outbox.enqueue import OUTBOX_CHANNEL, headers_json

from reset_service.domain.rate_limits import IP, Decision
from reset_service.domain.reset_request import MAX_CARRIED_CODES
from reset_service.service_layer.repositories import NewRequest

_ISSUE = """SELECT ip_allowed, retry_after_seconds FROM issue_reset_request(
    $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
    $21, $22, $23::jsonb, $24, $25)"""


class PostgresRequestIntake:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def issue(self, new: NewRequest, *, keep: bool) -> Decision:
        request, record, by_ip, by_account = new.request, new.record, new.by_ip, new.by_account
        row = await self._pool.fetchrow(
            _ISSUE,
            new.now,
            # An internal caller's missing IP bucket is a NULL subject, of the same types.
            by_ip.scope if by_ip else IP,
            by_ip.subject if by_ip else None,
            by_ip.max_hits if by_ip else 0,
            by_ip.window if by_ip else by_account.window,
            by_account.scope,
            by_account.subject,
            by_account.max_hits,
            by_account.window,
            request.id,
            request.account_id,
            request.token_hash,
            request.code_hash,
            request.hash_key_id,
            request.requires_totp,
            request.expires_at,
            new.takes_over_after,
            MAX_CARRIED_CODES,
            new.event_id,
            record.topic,
            record.key,
            record.value,
            headers_json(record),
            OUTBOX_CHANNEL,
            keep,
        )
        assert row is not None  # the function always returns its one row
        return Decision(row["ip_allowed"], row["retry_after_seconds"])
