"""The reset service's unit of work on PostgreSQL: servicekit's transaction with this service's
repositories bound to its connection (the port: ``service_layer/unit_of_work.py``)."""

from asyncpg.pool import PoolConnectionProxy
from servicekit.runtime.unit_of_work import PostgresUnitOfWork

from reset_service.adapters.deferred_emails import PostgresDeferredEmails
from reset_service.adapters.outbox import PostgresOutbox
from reset_service.adapters.rate_limits import PostgresRateLimits
from reset_service.adapters.requests_repository import PostgresRequests


class ResetUnitOfWork(PostgresUnitOfWork):
    requests: PostgresRequests
    rate_limits: PostgresRateLimits
    outbox: PostgresOutbox
    deferred_emails: PostgresDeferredEmails

    def bind(self, connection: PoolConnectionProxy) -> None:
        self.requests = PostgresRequests(connection)
        self.rate_limits = PostgresRateLimits(connection)
        self.outbox = PostgresOutbox(connection)
        self.deferred_emails = PostgresDeferredEmails(connection)
