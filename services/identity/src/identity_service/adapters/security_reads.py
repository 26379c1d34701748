"""What support sees of an account's security (asyncpg), on a unit of work's connection: counts
and times only, never a secret, a hash or a token."""

from datetime import datetime
from uuid import UUID

from asyncpg.pool import PoolConnectionProxy

from identity_service.domain.support import SecurityChange, SessionSummary


class SecurityReadsRepository:
    def __init__(self, connection: PoolConnectionProxy) -> None:
        self._conn = connection

    async def recovery_codes_left(self, account_id: UUID) -> int:
        left: int = await self._conn.fetchval(
            "SELECT count(*) FROM recovery_codes WHERE account_id = $1 AND used_at IS NULL",
            account_id,
        )
        return left

    async def password_changed_at(self, account_id: UUID) -> datetime | None:
        changed: datetime | None = await self._conn.fetchval(
            "SELECT password_changed_at FROM accounts WHERE id = $1", account_id
        )
        return changed

    async def live_sessions(
        self, account_id: UUID, now: datetime, limit: int
    ) -> tuple[list[SessionSummary], int]:
        rows = await self._conn.fetch(
            """SELECT id, created_at, expires_at, count(*) OVER () AS total FROM sessions
               WHERE account_id = $1 AND revoked_at IS NULL AND expires_at > $2
               ORDER BY created_at DESC LIMIT $3""",
            account_id,
            now,
            limit,
        )
        total = rows[0]["total"] if rows else 0
        sessions = [SessionSummary(r["id"], r["created_at"], r["expires_at"]) for r in rows]
        return sessions, total

    async def recent_changes(self, account_id: UUID, limit: int) -> list[SecurityChange]:
        rows = await self._conn.fetch(
            """SELECT kind, created_at, used_at IS NOT NULL AS undone FROM undo_tokens
               WHERE account_id = $1 ORDER BY created_at DESC LIMIT $2""",
            account_id,
            limit,
        )
        return [SecurityChange(r["kind"], r["created_at"], r["undone"]) for r in rows]
