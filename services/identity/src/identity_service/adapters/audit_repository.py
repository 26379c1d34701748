"""PostgreSQL storage of the admin API's audit log (asyncpg), on a unit of work's connection:
a record is written in the transaction of the change it records."""

from uuid import UUID

from asyncpg.pool import PoolConnectionProxy

from identity_service.domain.support import Action, AuditRecord, Role
from identity_service.service_layer.repositories import AuditPage


class AuditLogRepository:
    def __init__(self, connection: PoolConnectionProxy) -> None:
        self._conn = connection

    async def add(self, record: AuditRecord) -> None:
        await self._conn.execute(
            """INSERT INTO admin_audit (id, occurred_at, actor, role, action, account_id, reason)
               VALUES ($1, $2, $3, $4, $5, $6, $7)""",
            record.id,
            record.occurred_at,
            record.actor,
            record.role.value,
            record.action.value,
            record.account_id,
            record.reason,
        )

    async def page(self, account_id: UUID | None, before: int | None, limit: int) -> AuditPage:
        rows = await self._conn.fetch(
            """SELECT seq, id, occurred_at, actor, role, action, account_id, reason
               FROM admin_audit
               WHERE ($1::uuid IS NULL OR account_id = $1) AND ($2::bigint IS NULL OR seq < $2)
               ORDER BY seq DESC LIMIT $3""",
            account_id,
            before,
            limit + 1,
        )
        more = len(rows) > limit
        rows = rows[:limit]
        records = tuple(
            AuditRecord(
                id=row["id"],
                occurred_at=row["occurred_at"],
                actor=row["actor"],
                role=Role(row["role"]),
                action=Action(row["action"]),
                account_id=row["account_id"],
                reason=row["reason"],
            )
            for row in rows
        )
        return AuditPage(records, rows[-1]["seq"] if more and rows else None)
