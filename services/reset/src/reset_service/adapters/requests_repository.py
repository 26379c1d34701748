"""PostgreSQL storage of reset requests (asyncpg), on the unit of work's connection."""

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from reset_service.domain.reset_request import ResetRequest

_COLUMNS = """id, account_id, token_hash, code_hash, hash_key_id, requires_totp, created_at,
              expires_at, carried_code_hashes, failed_attempts, used_at, revoked_at"""


def _request(row: asyncpg.Record | None) -> ResetRequest | None:
    return ResetRequest(**dict(row)) if row is not None else None


class PostgresRequests:
    def __init__(self, conn: PoolConnectionProxy) -> None:
        self._conn = conn

    async def revoke_open(self, account_id: UUID, now: datetime) -> None:
        await self._conn.execute(
            """UPDATE reset_requests SET revoked_at = $2
               WHERE account_id = $1 AND used_at IS NULL AND revoked_at IS NULL""",
            account_id,
            now,
        )

    async def open_of(self, account_id: UUID, now: datetime) -> list[ResetRequest]:
        rows = await self._conn.fetch(
            f"""SELECT {_COLUMNS} FROM reset_requests
                WHERE account_id = $1 AND used_at IS NULL AND revoked_at IS NULL
                  AND expires_at > $2
                ORDER BY created_at DESC""",  # noqa: S608
            account_id,
            now,
        )
        return [ResetRequest(**dict(row)) for row in rows]

    async def cancel_open(self, account_id: UUID, now: datetime) -> int:
        result: str = await self._conn.execute(
            """UPDATE reset_requests SET revoked_at = $2
               WHERE account_id = $1 AND used_at IS NULL AND revoked_at IS NULL
                 AND expires_at > $2""",
            account_id,
            now,
        )
        return int(result.rsplit(" ", 1)[1])

    async def get(self, request_id: UUID) -> ResetRequest | None:
        row = await self._conn.fetchrow(
            f"SELECT {_COLUMNS} FROM reset_requests WHERE id = $1",  # noqa: S608
            request_id,
        )
        return _request(row)

    async def get_by_token(self, token_hashes: Sequence[bytes]) -> ResetRequest | None:
        row = await self._conn.fetchrow(
            f"""SELECT {_COLUMNS} FROM reset_requests
                WHERE token_hash = ANY($1::bytea[])""",  # noqa: S608
            list(token_hashes),
        )
        return _request(row)

    async def lock_by_token(self, token_hashes: Sequence[bytes]) -> ResetRequest | None:
        row = await self._conn.fetchrow(
            f"""SELECT {_COLUMNS} FROM reset_requests
                WHERE token_hash = ANY($1::bytea[]) FOR UPDATE""",  # noqa: S608
            list(token_hashes),
        )
        return _request(row)

    async def count_failed_attempt(self, request_id: UUID) -> int:
        attempts: int = await self._conn.fetchval(
            """UPDATE reset_requests SET failed_attempts = failed_attempts + 1
               WHERE id = $1 RETURNING failed_attempts""",
            request_id,
        )
        return attempts

    async def mark_used(self, request_id: UUID, now: datetime) -> None:
        await self._conn.execute(
            "UPDATE reset_requests SET used_at = $2 WHERE id = $1", request_id, now
        )
