"""Identity's unit of work on PostgreSQL: servicekit's asyncpg base (one pooled connection, one
transaction, explicit commit, rollback otherwise) with identity's repositories bound to it."""

from uuid import UUID

from asyncpg.pool import PoolConnectionProxy
from pwreset_contracts.cloudevents_kafka import KafkaRecord
from servicekit.messaging.outbox.enqueue import enqueue
from servicekit.runtime.unit_of_work import PostgresUnitOfWork

from identity_service.adapters.accounts_repository import (
    AccountsRepository,
    RecoveryCodesRepository,
)
from identity_service.adapters.audit_repository import AuditLogRepository
from identity_service.adapters.registrations_repository import RegistrationsRepository
from identity_service.adapters.security_reads import SecurityReadsRepository
from identity_service.adapters.sessions_repository import SessionsRepository
from identity_service.adapters.undo_tokens_repository import UndoTokensRepository


class Outbox:
    """servicekit's transactional outbox: the relay publishes a row once this commits."""

    def __init__(self, connection: PoolConnectionProxy) -> None:
        self._conn = connection

    async def add(self, event_id: UUID, record: KafkaRecord) -> None:
        await enqueue(self._conn, event_id, record)


class IdentityUnitOfWork(PostgresUnitOfWork):
    accounts: AccountsRepository
    recovery_codes: RecoveryCodesRepository
    sessions: SessionsRepository
    undo_tokens: UndoTokensRepository
    registrations: RegistrationsRepository
    outbox: Outbox
    audit: AuditLogRepository
    security: SecurityReadsRepository

    def bind(self, connection: PoolConnectionProxy) -> None:
        self.accounts = AccountsRepository(connection)
        self.recovery_codes = RecoveryCodesRepository(connection)
        self.sessions = SessionsRepository(connection)
        self.undo_tokens = UndoTokensRepository(connection)
        self.registrations = RegistrationsRepository(connection)
        self.outbox = Outbox(connection)
        self.audit = AuditLogRepository(connection)
        self.security = SecurityReadsRepository(connection)
